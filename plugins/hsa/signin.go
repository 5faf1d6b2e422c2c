package hsa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/medgate/medgate/plugins/sdk"
)

// signInState is the cached result of a 9001 sign-in.
type signInState struct {
	Day      string `json:"day"` // yyyy-MM-dd in UTC+8
	SignNo   string `json:"signNo"`
	SignTime string `json:"signTime,omitempty"`
	MsgID    string `json:"msgid,omitempty"`
}

func signInKey(opter string) string { return "hsa/signin/" + opter }

// SignNo returns today's sign_no for the configured operator, signing in
// with 9001 when there is none yet today. It is cached in memory and in
// host state, so every instance shares one sign-in per day.
func (c *Client) SignNo(ctx context.Context, h Host, messageID string) (string, error) {
	return c.signNo(ctx, h, messageID, "")
}

// signNo is SignNo that never returns refused, the sign_no the platform
// refused as expired ("" for none): a cached one that is still refused is
// replaced by a new 9001, one another call or instance already got is
// used as it is. One call of this client signs in at a time; the others
// wait for it and use its sign_no, so calls of this client refused for
// the same sign_no sign in again once between them.
func (c *Client) signNo(ctx context.Context, h Host, messageID, refused string) (string, error) {
	day := c.now().In(cst).Format("2006-01-02")
	key := signInKey(c.cfg.Opter)
	cached := func() (string, bool) {
		c.mu.Lock()
		st, ok := c.signin[key]
		c.mu.Unlock()
		if ok && st.Day == day && st.SignNo != "" && st.SignNo != refused {
			return st.SignNo, true
		}
		return "", false
	}
	if no, ok := cached(); ok {
		return no, nil
	}
	select {
	case c.signing <- struct{}{}:
		defer func() { <-c.signing }()
	case <-ctx.Done():
		return "", fmt.Errorf("wait for the 9001 sign-in of another call: %w", ctx.Err())
	}
	if no, ok := cached(); ok {
		return no, nil
	}
	var st signInState
	e, err := h.Get(ctx, key)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
	case err != nil:
		return "", fmt.Errorf("read the 9001 sign-in state: %w", err)
	default:
		if json.Unmarshal(e.Value, &st) == nil && st.Day == day && st.SignNo != "" && st.SignNo != refused {
			c.remember(key, st)
			return st.SignNo, nil
		}
	}
	input := map[string]any{"signIn": map[string]any{"opter_no": c.cfg.Opter, "mac": c.cfg.SignInMAC, "ip": c.cfg.SignInIP}}
	res, err := c.Do(ctx, h, Call{Infno: "9001", Input: input, MessageID: messageID})
	if err != nil {
		return "", fmt.Errorf("sign in with 9001: %w", err)
	}
	var out struct {
		Signinoutb struct {
			SignNo   any    `json:"sign_no"`
			SignTime string `json:"sign_time"`
		} `json:"signinoutb"`
	}
	if err := json.Unmarshal(res.Output, &out); err != nil || text(out.Signinoutb.SignNo) == "" {
		return "", fmt.Errorf("sign in with 9001 (msgid %s): the answer has no signinoutb.sign_no; check the 9001 field names against the province's document", res.MsgID)
	}
	st = signInState{Day: day, SignNo: text(out.Signinoutb.SignNo), SignTime: out.Signinoutb.SignTime, MsgID: res.MsgID}
	b, _ := json.Marshal(st)
	if _, err := h.Put(ctx, key, b); err != nil {
		return "", fmt.Errorf("store the 9001 sign-in: %w", err)
	}
	c.remember(key, st)
	return st.SignNo, nil
}

func (c *Client) remember(key string, st signInState) {
	c.mu.Lock()
	c.signin[key] = st
	c.mu.Unlock()
}

// ForgetSignIn drops today's sign_no from memory and host state, so the
// next call signs in again (for when the platform says it expired).
func (c *Client) ForgetSignIn(ctx context.Context, h Host) error {
	key := signInKey(c.cfg.Opter)
	c.mu.Lock()
	delete(c.signin, key)
	c.mu.Unlock()
	if _, err := h.Put(ctx, key, []byte(`{}`)); err != nil {
		return fmt.Errorf("forget the 9001 sign-in: %w", err)
	}
	return nil
}
