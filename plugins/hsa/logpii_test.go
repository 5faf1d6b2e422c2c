package hsa

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// TestRefusalTextNotInLogs: a refusal of the provincial platform whose
// err_msg quotes a person (an ID number, a name after 姓名 and 患者, an
// old 15-digit ID number, a social-security card number, a birth date)
// reaches the client's log line and the error the adapter logs masked,
// at every level; the BusinessError keeps the message for the reply.
func TestRefusalTextNotInLogs(t *testing.T) {
	t.Parallel()
	const msg = "身份证号 350203198001011234 的人员无有效备案；患者张三丰（姓名张三丰，旧证号350203800101123，社保卡号D15629456，出生日期1980-01-01）"
	var logs bytes.Buffer
	p := &platform{}
	p.fn = func(w http.ResponseWriter, _ map[string]any) {
		_ = json.NewEncoder(w).Encode(map[string]any{"infcode": -1, "err_msg": msg})
	}
	srv := serve(t, p)
	h := newMemHost()
	c := newClient(t, testConfig(srv.URL), WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	_, err := c.Do(context.Background(), h, Call{Infno: "4207"})
	be, ok := err.(*BusinessError)
	if !ok || be.Message != msg {
		t.Fatalf("err = %v, want a BusinessError keeping the message", err)
	}
	if !strings.Contains(logs.String(), "refused") {
		t.Fatalf("the refusal was not logged:\n%s", logs.String())
	}
	for _, leak := range []string{"350203198001011234", "张三丰", "三丰", "350203800101123", "D15629456", "15629456", "1980-01-01"} {
		for where, s := range map[string]string{"log": logs.String(), "error": err.Error(), "MaskText": MaskText(msg)} {
			if strings.Contains(s, leak) {
				t.Errorf("%q reaches the %s: %s", leak, where, s)
			}
		}
	}
}
