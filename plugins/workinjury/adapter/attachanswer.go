package adapter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/medgate/medgate/plugins/sdk"
)

// attachmentAnswer reads the answer of a GYD054 for attachment aid and
// checks that it is that attachment, whole: the attachment_id it names is
// aid, its file_content is standard base64 and, when it gives file_size,
// the decoded content is that long. A signed answer about another
// attachment (the national system, or a relay, mixing up two requests), or
// one whose content is cut short, would otherwise be filed under aid, as
// another worker's document or a broken one. problem is empty when the
// answer is the attachment; else it says, in Chinese for the download
// feedback (fail_reason) and the reply, what is wrong.
func attachmentAnswer(aid string, output json.RawMessage) (f map[string]any, content []byte, problem string) {
	dec := json.NewDecoder(bytes.NewReader(output))
	dec.UseNumber()
	_ = dec.Decode(&f)
	if got := str(f, "attachment_id"); got != aid {
		if got == "" {
			return f, nil, fmt.Sprintf("附件 %s 的下载应答没有附件编号（attachment_id）", aid)
		}
		return f, nil, fmt.Sprintf("附件 %s 的下载应答是另一个附件 %s", aid, got)
	}
	content, err := base64.StdEncoding.DecodeString(str(f, "file_content"))
	if err != nil {
		return f, nil, fmt.Sprintf("附件 %s 内容不是 Base64", aid)
	}
	if size := str(f, "file_size"); size != "" {
		if n, err := strconv.ParseInt(size, 10, 64); err != nil || n != int64(len(content)) {
			return f, nil, fmt.Sprintf("附件 %s 的文件大小 file_size %s 与内容的 %d 字节不符", aid, size, len(content))
		}
	}
	return f, content, ""
}

// attachmentQuery is the reply to a GYD054 message whose answer is not the
// attachment asked for (attachmentAnswer): failed and retryable, nothing
// passed on, since asking again may get the right file.
func attachmentQuery(aid, serial, problem string) *sdk.HandleResponse {
	return failed(true, "consistency", "the national system's GYD054 answer is not attachment "+aid+" as asked: nothing passed on",
		fmt.Sprintf("%s (serial %s). The answer is not used; the message is retried. If it stays so, give the serial to the national system's operators", problem, serial))
}
