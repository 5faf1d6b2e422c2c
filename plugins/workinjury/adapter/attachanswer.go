package adapter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"strconv"
	"strings"

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

// downloadedFormat compares the content of a downloaded attachment
// (GYD054) with what its file_format and the extension of its file_name
// say it is (attachformat.go: only formats with a known signature are
// checked). It returns "" when the content is what they say, or they name
// no format with a known signature; else what they say and what the
// content is. A national system, or a relay, that answers with an error
// page or another file under the attachment's name would otherwise have
// it filed as the document (a 工伤认定决定书 that is an HTML page). The
// file name itself is not quoted (it may name the worker): its extension
// is.
func downloadedFormat(fileName, format string, content []byte) string {
	head := content[:min(len(content), sniffLen)]
	var says []string
	looks := ""
	if l, _ := formatMismatch(format, head); l != "" {
		says, looks = append(says, fmt.Sprintf("its file_format %s says %s", format, fileKinds[strings.ToLower(strings.TrimSpace(format))].name)), l
	}
	if ext := strings.TrimPrefix(path.Ext(fileName), "."); ext != "" {
		if l, _ := formatMismatch(ext, head); l != "" {
			says, looks = append(says, fmt.Sprintf("its file name (*.%s) says %s", ext, fileKinds[strings.ToLower(ext)].name)), l
		}
	}
	if len(says) == 0 {
		return ""
	}
	return strings.Join(says, " and ") + ", but its content is " + looks
}

// formatFix is what staff do with an attachment downloadedFormat found
// not to be what it says.
const formatFix = "do not file it as the document its name says (an error page or another file came instead): download it again (GYD054); if it stays so, give the serial to the national system's operators"

// attachmentFormatAlert reports a downloaded attachment aid (GYD054,
// serial) whose content is not what its name says (problem, from
// downloadedFormat; content its bytes): an ALERT line and a
// workinjury.attachment.format_mismatch event, whose id names the
// attachment and its content, so the same bytes downloaded again give
// the same event. where adds what the download served (a message, or a
// download workflow's record). It is passed on all the same, marked: it
// may be the document in a format the code table does not tell apart.
func (a *Adapter) attachmentFormatAlert(ctx context.Context, h sdk.Host, c *siteConfig, aid, serial, problem string, content []byte, where map[string]any) {
	sum := sha256.Sum256(content)
	a.log.Error("ALERT: a downloaded attachment (GYD054) is not the format it says; it is passed on marked (format_problem), not as a good download",
		"site", c.code, "attachment", aid, "serial", serial, "problem", problem, "where", where)
	body := map[string]any{"site": c.code, "attachmentId": aid, "serial": serial, "problem": problem, "sha256": hex.EncodeToString(sum[:]), "fix": formatFix}
	maps.Copy(body, where)
	payload, err := marshal(body)
	if err == nil {
		err = h.Publish(ctx, sdk.Event{ID: Name + "/" + c.code + "/attachment-format/" + aid + "/" + hex.EncodeToString(sum[:6]),
			Type: "workinjury.attachment.format_mismatch", Key: aid, Payload: payload, OccurredAt: a.now()})
	}
	if err != nil {
		a.log.Warn("cannot publish workinjury.attachment.format_mismatch; the ALERT above stands for it", "site", c.code, "attachment", aid, "err", err)
	}
}

// formatWarning is the warning of a GYD054 reply whose attachment is not
// what its name says (downloadedFormat).
func formatWarning(aid, serial, problem string) sdk.Diagnostic {
	return sdk.Diagnostic{Severity: sdk.SeverityWarning, Field: "$.file_content", Rule: "format",
		Summary: "attachment " + aid + " is not what its name says: " + problem,
		Detail:  formatFix + " (serial " + serial + ")"}
}
