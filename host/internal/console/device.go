package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"
)

// deviceCookie marks a browser in which users signed in with a password:
// a random id and its MAC under a key of this process (devices.mac), so
// that an id nobody was given is not kept. The lockout remembers the
// browser's key (deviceLockKey) among the addresses of each user who
// signed in in it, and a sign-in of such a user from that browser counts
// by the browser, not by its client address: a guesser behind the same
// NAT or proxy address as a ward (who does not have the cookie) locks the
// user out of that address, not out of the user's own browser. The lockout
// forgets the keys on restart, as it forgets the addresses.
const deviceCookie = "medgate_device"

// deviceMaxAge is how long a browser keeps the device cookie.
const deviceMaxAge = 365 * 24 * time.Hour

// devices issues and checks device cookies.
type devices struct{ key []byte }

func newDevices() *devices {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("console: no randomness: " + err.Error())
	}
	return &devices{key: k}
}

// mac is the hex MAC of a device id.
func (d *devices) mac(id string) string {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))
}

// of returns the browser's device id when r carries a device cookie this
// process gave ("" otherwise).
func (d *devices) of(r *http.Request) string {
	ck, err := r.Cookie(deviceCookie)
	if err != nil || len(ck.Value) != 64+1+64 || ck.Value[64] != '.' {
		return ""
	}
	id, sum := ck.Value[:64], ck.Value[65:]
	if !hmac.Equal([]byte(sum), []byte(d.mac(id))) {
		return ""
	}
	return id
}

// deviceLockKey is the lockout's address for a browser's device id (no
// client address looks like it).
func deviceLockKey(id string) string { return "\x00device " + id }

// lockAddr is the address a sign-in of user with r counts at in the
// lockout: the browser's device key when the user signed in in this
// browser before (access.Lockout.Knows), else the client address addr.
// inBrowser reports which.
func (c *Console) lockAddr(r *http.Request, user, addr string) (key string, inBrowser bool) {
	if id := c.devices.of(r); id != "" && c.o.Lockout.Knows(user, deviceLockKey(id)) {
		return deviceLockKey(id), true
	}
	return addr, false
}

// rememberDevice marks the browser of r as one user signed in in: the
// lockout remembers its key for the user, and the browser keeps (or gets)
// the device cookie.
func (c *Console) rememberDevice(w http.ResponseWriter, r *http.Request, user string) {
	id := c.devices.of(r)
	if id == "" {
		id = randomHex(32)
	}
	c.o.Lockout.Succeed(user, deviceLockKey(id))
	http.SetCookie(w, &http.Cookie{Name: deviceCookie, Value: id + "." + c.devices.mac(id), Path: Prefix, MaxAge: int(deviceMaxAge / time.Second),
		HttpOnly: true, Secure: c.secure(r) || browserOnHTTPS(r), SameSite: http.SameSiteStrictMode})
}
