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
	day := c.now().In(cst).Format("2006-01-02")
	key := signInKey(c.cfg.Opter)
	c.mu.Lock()
	st, ok := c.signin[key]
	c.mu.Unlock()
	if ok && st.Day == day && st.SignNo != "" {
		return st.SignNo, nil
	}
	e, err := h.Get(ctx, key)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
	case err != nil:
		return "", fmt.Errorf("read the 9001 sign-in state: %w", err)
	default:
		if json.Unmarshal(e.Value, &st) == nil && st.Day == day && st.SignNo != "" {
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

// forgetSignNo drops the cached sign-in if it is still signNo (the one the
// platform refused), from memory and host state; a newer one that another
// call or instance already got is kept.
func (c *Client) forgetSignNo(ctx context.Context, h Host, signNo string) error {
	key := signInKey(c.cfg.Opter)
	c.mu.Lock()
	if st, ok := c.signin[key]; ok && st.SignNo == signNo {
		delete(c.signin, key)
	}
	c.mu.Unlock()
	e, err := h.Get(ctx, key)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("read the 9001 sign-in state: %w", err)
	}
	var st signInState
	if json.Unmarshal(e.Value, &st) == nil && st.SignNo != signNo {
		return nil
	}
	if _, err := h.Put(ctx, key, []byte(`{}`)); err != nil {
		return fmt.Errorf("forget the 9001 sign-in: %w", err)
	}
	return nil
}
