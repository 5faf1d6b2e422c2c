package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// qrKeyRecord, at keyQRKey + a key id, says until when the codes the site
// sealed with that key id stay valid at the latest: the latest expiry,
// rounded up to the hour so that a busy desk writes it about once an hour.
// Configure reads it to warn when a key is taken out of qrKeys while its
// codes still scan, and a scan of a code sealed with a key that is not the
// active one reads it to refuse a code the site did not seal (retiredKey).
type qrKeyRecord struct {
	Until time.Time `json:"until"`
	// Since is when this version of the plugin first wrote the record:
	// every code sealed with the key from then on has its expiry in Until.
	// Codes issued earlier may not (the record did not exist, or an older
	// version wrote it without Since), so they are not judged by it. Zero
	// in a record an older version wrote; the next scan of a code of the
	// key then sets it (retiredKey).
	Since time.Time `json:"since,omitzero"`
}

// sealedUntil returns expires rounded up to the whole hour.
func sealedUntil(expires time.Time) time.Time {
	u := expires.UTC()
	if r := u.Truncate(time.Hour); !r.Equal(u) {
		return r.Add(time.Hour)
	}
	return u
}

// recordSealed records that a code sealed with the site's active key is
// valid until expires. It writes only when the recorded time is earlier,
// remembering what it wrote so later codes of the same hour cost no write.
func (h handler) recordSealed(ctx context.Context, expires time.Time) error {
	id := h.cfg.activeKey
	until := sealedUntil(expires)
	memo := h.req.Site + "\x00" + id
	h.a.sealedMu.Lock()
	known := h.a.sealed[memo]
	h.a.sealedMu.Unlock()
	if !known.Before(until) {
		return nil
	}
	key := keyQRKey + id
	for range maxCASTry {
		var rec qrKeyRecord
		ver, err := getJSON(ctx, h.host(), key, &rec)
		if err != nil && !errors.Is(err, sdk.ErrNotFound) {
			return err
		}
		if rec.Until.Before(until) || rec.Since.IsZero() {
			since := rec.Since
			if since.IsZero() {
				since = h.a.now().UTC()
			}
			_, err = casJSON(ctx, h.host(), key, ver, qrKeyRecord{Until: maxTime(rec.Until, until), Since: since})
			if errors.Is(err, sdk.ErrConflict) {
				continue
			}
			if err != nil {
				return err
			}
		}
		h.a.sealedMu.Lock()
		if h.a.sealed[memo].Before(until) {
			h.a.sealed[memo] = until
		}
		h.a.sealedMu.Unlock()
		return nil
	}
	return errBusy
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// retiredKey refuses, as tampered (reason "retired-key"), an authentic code
// sealed with a key that is not the site's active one when the site never
// sealed such a code: issued after the key's record began (qrKeyRecord.Since)
// and valid beyond the latest expiry recorded for the key. Every code the
// site seals is recorded before it is handed out, by whichever instance
// sealed it (one still sealing with the key during a rotation included), so
// such a code was sealed elsewhere with a copy of the key. A retired key
// kept in qrKeys thus stops working once the codes the site sealed with it
// have expired. It returns nil when the code may be the site's. One state
// read, only for codes of keys that are not the active one (and one write
// when the record has no Since, see below).
//
// The check holds only while every instance that seals codes records them:
// an instance of a version before qrkey records (one that records nothing)
// hands out codes the record does not cover, refused here like a copy's
// once their key is retired. That cannot be told from a copy, so it is not
// tolerated (a tolerance window would open to anyone who backdates a
// forged code into it); the README says to rotate only once no such
// instance runs and the codes it printed have expired.
func (h handler) retiredKey(ctx context.Context, c card.Claims) (*sdk.HandleResponse, error) {
	if c.KeyID == h.cfg.activeKey {
		return nil, nil
	}
	var rec qrKeyRecord
	ver, err := getJSON(ctx, h.host(), keyQRKey+c.KeyID, &rec)
	if errors.Is(err, sdk.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if rec.Since.IsZero() {
		// Written last by the previous version, which records every code
		// it seals but knows no since: from now on every code sealed with
		// the key is recorded, so the record judges again the codes issued
		// from now on. Without this, a key retired while an instance of
		// that version still sealed with it would never be judged: this
		// version, sealing with another key, no longer writes its record.
		// A conflict means another instance restarted it, or that version
		// wrote again, which the next scan sees.
		rec.Since = h.a.now().UTC()
		if _, err := casJSON(ctx, h.host(), keyQRKey+c.KeyID, ver, rec); err != nil && !errors.Is(err, sdk.ErrConflict) {
			return nil, fmt.Errorf("restart the record of QR key %s: %w", c.KeyID, err)
		}
		return nil, nil
	}
	if c.IssuedAt.Before(rec.Since) || !c.ExpiresAt.After(rec.Until) {
		return nil, nil
	}
	return invalid("$.text", ResultTampered, "the e-card code was sealed with a retired key after it was retired",
		fmt.Sprintf("the code is authentic under key %s, which no longer seals codes at this site (qrActiveKey is %s), but it is valid until %s, "+
			"later than every code this site sealed with key %s (until %s at the latest): it was sealed elsewhere with a copy of the key; "+
			"treat it as possible fraud and print a new code for the patient. Remove key %s from qrKeys after %s",
			c.KeyID, h.cfg.activeKey, c.ExpiresAt.Format(time.RFC3339), c.KeyID, rec.Until.UTC().Format(time.RFC3339), c.KeyID, rec.Until.UTC().Format(time.RFC3339)),
		scanRefusal{Result: ResultTampered, Reason: "retired-key"})
}

// warnRemovedKeys warns, for every key id the site has sealed codes with
// that is not in the new qrKeys and whose codes may still be valid, that
// those codes can no longer be scanned, as a Configure warning and a logged
// ALERT. It never quotes a secret.
func (a *Adapter) warnRemovedKeys(ctx context.Context, site string, host sdk.Host, cfg *siteConfig, ds *sdk.Diagnostics) {
	now := a.now()
	if host == nil || cfg == nil {
		return
	}
	es, err := host.Scan(ctx, keyQRKey, 0)
	if err != nil {
		ds.Warn(setQRKeys, "removed-key", "无法检查是否移除了仍有有效二维码的密钥 could not check whether a key still sealing valid QR codes was removed from qrKeys",
			fmt.Sprintf("reading state %s failed: %v; keep every key whose codes have not yet expired in qrKeys", keyQRKey, err))
		a.log.Warn("could not check whether qrKeys dropped a key whose QR codes are still valid", "site", site, "err", err)
		return
	}
	type gone struct {
		id    string
		until time.Time
	}
	var removed []gone
	for _, e := range es {
		id := strings.TrimPrefix(e.Key, keyQRKey)
		if cfg.keyIDs[id] {
			continue
		}
		var rec qrKeyRecord
		if err := json.Unmarshal(e.Value, &rec); err != nil || !rec.Until.After(now) {
			continue
		}
		removed = append(removed, gone{id, rec.Until.UTC()})
	}
	sort.Slice(removed, func(i, j int) bool { return removed[i].id < removed[j].id })
	for _, g := range removed {
		until := g.until.Format(time.RFC3339)
		ds.Warn(setQRKeys, "removed-key",
			fmt.Sprintf("qrKeys 中已移除密钥 %s，但用它加密的二维码最晚到 %s 仍在有效期内，此前这些码扫码将被拒绝（tampered / unknown-key）。key %s was removed from qrKeys while QR codes sealed with it stay valid until %s at the latest: they can no longer be scanned", g.id, until, g.id, until),
			fmt.Sprintf("把密钥 %s 放回 qrKeys（qrActiveKey 可保持新密钥），到 %s 之后再移除。put key %s back into qrKeys (qrActiveKey may stay on the new key) and remove it after %s", g.id, until, g.id, until))
		a.log.Error(fmt.Sprintf("ALERT: key %s was removed from qrKeys while QR codes sealed with it stay valid until %s at the latest; they can no longer be scanned: put the key back into qrKeys and remove it after that time", g.id, until),
			"site", site, "keyId", g.id, "validUntil", until)
	}
}
