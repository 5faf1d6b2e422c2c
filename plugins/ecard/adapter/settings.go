package adapter

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// Setting names.
const (
	setIdentitySecret   = "identitySecret"
	setQRKeys           = "qrKeys"
	setQRActiveKey      = "qrActiveKey"
	setQRPrefix         = "qrPrefix"
	setQRValidity       = "qrValidity"
	setQRSkew           = "qrSkew"
	setQRImageSize      = "qrImageSize"
	setCardPrefix       = "cardPrefix"
	setCardWidth        = "cardWidth"
	setCardCheck        = "cardCheck"
	setTempCardPrefixes = "tempCardPrefixes"
	setCardNumbers      = "cardNumbers"
	setRevealIdentity   = "revealIdentity"
	setTempCardLookup   = "tempCardLookup"
	// setTempCardLookupToken is the bearer token of the HIS lookup.
	setTempCardLookupToken = "tempCardLookupToken"
	setLookupTimeout       = "tempCardLookupTimeout"
	setAcceptV1Codes       = "acceptV1Codes"
)

// Values of cardNumbers and tempCardLookup.
const (
	numbersShuffled   = "shuffled"
	numbersSequential = "sequential"
	lookupLinks       = "links"
	lookupNone        = "none"
	lookupHIS         = "his" // tempCardLookup is the URL of a HIS service
)

// minIdentitySecret is the shortest identitySecret accepted, in bytes.
const minIdentitySecret = 16

// settings declares the per-site configuration fields.
func settings() []sdk.Setting {
	return []sdk.Setting{
		{Name: setIdentitySecret, Type: sdk.SettingSecret, Required: true,
			Description: "身份索引的密钥（对证件类型和号码做 HMAC-SM3），保证一人一卡；至少 16 个随机字符；已有电子卡后切勿更改，否则每个人都会拿到新卡。keys the identity index (HMAC-SM3 of ID type and number) that enforces one card per person; at least 16 random characters; never change it once cards exist, or every person gets a new card",
			Example:     "env:MEDGATE_ECARD_IDENTITY_SECRET"},
		{Name: setQRKeys, Type: sdk.SettingSecret, Required: true,
			Description: "二维码密钥环：逗号分隔的 id:secret 对，id 为一个字符 0-9 或 A-Z，secret 为 32 个十六进制字符（16 字节，可用 openssl rand -hex 16 生成）。停用的密钥要留在环中，直到用它生成的二维码全部过期。the QR key ring: comma-separated id:secret pairs, where id is one character 0-9 or A-Z and secret is 32 hex characters (16 bytes; openssl rand -hex 16). Keep a retired key in the ring until its codes have expired",
			Example:     "file:/etc/medgate/ecard-qr-keys"},
		{Name: setQRActiveKey, Type: sdk.SettingString,
			Description: "qrKeys 中用于生成新二维码的密钥 id；环中只有一个密钥时可留空。id of the key in qrKeys that seals new codes; may be empty when the ring holds a single key",
			Example:     "B"},
		{Name: setQRPrefix, Type: sdk.SettingString, Default: card.DefaultPrefix,
			Description: "每个二维码的文字前缀：2-4 个字母 A-Z，至少一个在 G-Z 之间；更改后已发出的二维码全部失效。text prefix of every QR code: 2-4 letters A-Z, at least one in G-Z; changing it invalidates every code already issued",
			Example:     "XMH"},
		{Name: setQRValidity, Type: sdk.SettingDuration, Default: "72h",
			Description: "请求未指定时新二维码的有效期；最长 2160h（90 天）。validity of a new QR code when the request does not give one; at most 2160h (90 days)",
			Example:     "24h"},
		{Name: setQRSkew, Type: sdk.SettingDuration, Default: "60s",
			Description: "二维码的签发时间最多可以比本机时间晚多久（各实例间的时钟差），超过则扫码拒绝；最长 10m。how far in the future a code's issue time may be before a scan refuses it (clock difference between instances); at most 10m",
			Example:     "30s"},
		{Name: setQRImageSize, Type: sdk.SettingInt, Default: "256",
			Description: "请求未指定时二维码 PNG 图片的边长（像素），96 到 4096。side of the QR PNG in pixels when the request does not give one; 96 to 4096",
			Example:     "384"},
		{Name: setCardPrefix, Type: sdk.SettingString, Default: "8801",
			Description: "每个电子卡号开头的数字（1-8 位），不得与任何临时卡号前缀重叠。digits that start every e-card number (1-8); must not overlap any temporary-card prefix",
			Example:     "8801"},
		{Name: setCardWidth, Type: sdk.SettingInt, Default: "10",
			Description: "卡号中补零的序号位数；前缀 + 位数 + 1 位校验字符合计不超过 16。number of zero-padded sequence digits in a card number; prefix + width + 1 check character is at most 16",
			Example:     "10"},
		{Name: setCardCheck, Type: sdk.SettingString, Default: card.CheckMod11_2, Enum: []string{card.CheckMod11_2, card.CheckLuhn},
			Description: "卡号校验字符：mod11-2（ISO 7064，0-9 或 X，与居民身份证相同）或 luhn（仅数字）。check character of card numbers: mod11-2 (ISO 7064, 0-9 or X, as on resident ID cards) or luhn (digits only)",
			Example:     card.CheckLuhn},
		{Name: setTempCardPrefixes, Type: sdk.SettingString, Required: true,
			Description: "本院临时卡号的前缀，逗号分隔；电子卡号绝不以它们开头，只有这类卡号可以关联，扫到这类卡号会提示是临时卡。comma-separated prefixes of the hospital's temporary-card (临时卡) numbers; e-card numbers never start with them, only such numbers can be linked, and a scan of one says it is a temporary card",
			Example:     "99,98"},
		{Name: setCardNumbers, Type: sdk.SettingString, Default: numbersShuffled, Enum: []string{numbersShuffled, numbersSequential},
			Description: "shuffled 打乱：卡号的序号位由登记序号经密钥置换得到（由 identitySecret 派生），卡号仍保持前缀、位数和校验字符，但无法猜出下一个或其他人的卡号；sequential 顺序：直接用登记序号（可被猜出，仅用于必须如此的 HIS）。shuffled: the sequence digits of a card number are a keyed permutation of the registration sequence (derived from identitySecret), so numbers keep the prefix, width and check character but the next or any other card number cannot be guessed; sequential: the sequence itself (guessable; only for a HIS that requires it)",
			Example:     numbersSequential},
		{Name: setRevealIdentity, Type: sdk.SettingBool, Default: "false",
			Description: `允许 ecard.get 和 ecard.scan（二维码和临时卡）在请求带 "reveal": true 时返回未遮蔽的姓名、证件号和手机号；除非只有可信系统（集成平台、经过认证的 HIS 客户端）能发消息，否则保持 false。allow ecard.get and ecard.scan (QR codes and temporary cards) to return the unmasked name, ID number and phone when the request asks with "reveal": true; leave false unless only trusted systems (the integration platform, authenticated HIS clients) can send messages`,
			Example:     "true"},
		{Name: setTempCardLookup, Type: sdk.SettingString, Default: lookupLinks,
			Description: "扫到临时卡号时查什么：links（用 ecard.link 关联的电子卡，从而找到病人）、none（只提示是临时卡），或没有关联时询问的 HIS 服务的 http(s) 地址（接口见 README）。what a scan of a temporary-card number looks up: links (the e-card it is linked to with ecard.link, and so the patient), none (only say that it is a temporary card), or the http(s) URL of a HIS service asked when there is no link (POST {\"tempCardNo\"} → {\"found\", \"patientId\", \"name\", \"idType\", \"idNumber\", \"phone\"}; see the README)",
			Example:     "https://his.example.local/medgate/tempcard"},
		{Name: setTempCardLookupToken, Type: sdk.SettingSecret,
			Description: "HIS 临时卡查询服务（tempCardLookup 为其地址时）发给 medgate 的令牌，以 Authorization: Bearer <token> 发送；服务不要求时留空。地址为 http 时，除非主机是本机（localhost、127.0.0.1、::1），否则拒绝：请用 https。令牌写在这里，不要写进地址（地址会出现在错误信息和交互日志中）。token the HIS temporary-card lookup service (tempCardLookup set to its URL) issued to medgate, sent as Authorization: Bearer <token>; leave empty when the service asks for none. Refused with an http URL unless its host is this machine (localhost, 127.0.0.1, ::1): use https. Put it here, not in the URL, which is shown in errors and the journal (without its query)",
			Example:     "env:MEDGATE_ECARD_LOOKUP_TOKEN"},
		{Name: setLookupTimeout, Type: sdk.SettingDuration, Default: "3s",
			Description: "HIS 临时卡查询的最长等待时间（扫码会等它）；100ms 到 30s。time allowed for the HIS temporary-card lookup (a scan waits for it); 100ms to 30s",
			Example:     "2s"},
		{Name: setAcceptV1Codes, Type: sdk.SettingBool, Default: "true",
			Description: "是否接受第 1 版格式的二维码（MGE1…，在二维码带站点名之前打印的），持有其密钥的每个站点都能扫；升级到第 2 版前打印的最长有效期（qrValidity，最长 2160h）过去后设为 false，与其他站点共用 qrKeys 的站点应立即设为 false：此后扫这种码会被拒绝（old-format），病人需重新取码。accept QR codes of format version 1 (MGE1…, printed before codes named their site), which scan at every site holding their key; set false once the longest validity printed before the upgrade to version 2 has passed (qrValidity, at most 2160h), or at once at a site that shares qrKeys with another site: a scan of such a code is then refused (old-format) and the patient gets a new code",
			Example:     "false"},
	}
}

// siteConfig is one site's parsed configuration. It is immutable once built.
type siteConfig struct {
	rule card.NumberRule
	// perm shuffles card numbers; nil when cardNumbers is sequential.
	perm          *card.Permutation
	revealAllowed bool
	acceptV1      bool
	tempLookup    string
	his           *hisLookup
	sealer        *card.Sealer
	// activeKey is the id of the key that seals new codes; keyIDs holds
	// every id in qrKeys.
	activeKey      string
	keyIDs         map[string]bool
	identitySecret []byte
	validity       time.Duration
	imageSize      int
}

// settingValue returns the given value of a setting, or its declared default
// when it is missing or empty (as the host does).
func settingValue(given map[string]string, name string) string {
	if v := strings.TrimSpace(given[name]); v != "" {
		return v
	}
	for _, s := range settings() {
		if s.Name == name {
			return s.Default
		}
	}
	return ""
}

// dummyKey lets a single setting be checked by building a throw-away sealer.
// It never seals anything.
var dummyKey = card.Key{ID: "0", Secret: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}

// parseSettings checks every setting and returns the site's configuration,
// or diagnostics listing every problem. Secret values never appear in a
// diagnostic.
func parseSettings(site string, given map[string]string, now func() time.Time) (*siteConfig, sdk.Diagnostics) {
	var ds sdk.Diagnostics
	cfg := &siteConfig{}

	// identitySecret
	switch secret := settingValue(given, setIdentitySecret); {
	case secret == "":
		ds.Error(setIdentitySecret, "required", "identitySecret is required",
			"set it to env:NAME or file:/path holding at least 16 random characters, e.g. the output of `openssl rand -hex 32`")
	case len(secret) < minIdentitySecret:
		ds.Error(setIdentitySecret, "length", "identitySecret is too short",
			fmt.Sprintf("use at least %d random characters, e.g. the output of `openssl rand -hex 32`", minIdentitySecret))
	default:
		cfg.identitySecret = []byte(secret)
	}

	// qrKeys and qrActiveKey
	keys, named, keyDiags := parseKeys(settingValue(given, setQRKeys))
	ds = append(ds, keyDiags...)
	active := settingValue(given, setQRActiveKey)
	switch {
	case active == "" && len(keys) == 1 && len(keyDiags) == 0:
		active = keys[0].ID
	case active == "" && len(keys) > 1:
		ds.Error(setQRActiveKey, "required", "qrActiveKey is required when qrKeys holds several keys",
			"set it to the id of the key that seals new codes, e.g. "+keys[len(keys)-1].ID)
	case active != "" && len(named) > 0 && !named[active]:
		ds.Error(setQRActiveKey, "enum", fmt.Sprintf("qrActiveKey %s is not in qrKeys", quoteShort(active)),
			"set it to the id of one of the keys in qrKeys: "+keyIDs(keys))
	}
	if len(keyDiags) == 0 && len(keys) > 0 && hasKey(keys, active) {
		// Duplicate ids and all-zero secrets are found by the sealer itself.
		if _, err := card.NewSealer(keys, active, now); err != nil {
			for _, e := range splitErrors(err) {
				ds.Error(setQRKeys, "format", "qrKeys is unusable", e.Error())
			}
		}
	}

	// qrPrefix
	prefix := settingValue(given, setQRPrefix)
	if _, err := card.NewSealer([]card.Key{dummyKey}, dummyKey.ID, now, card.WithPrefix(prefix)); err != nil {
		ds.Error(setQRPrefix, "format", "qrPrefix is invalid", fmt.Sprintf("%q must be 2-4 letters A-Z with at least one in G-Z, e.g. %q", prefix, card.DefaultPrefix))
	}

	// qrSkew
	skew, err := time.ParseDuration(settingValue(given, setQRSkew))
	switch {
	case err != nil:
		ds.Error(setQRSkew, "type", "qrSkew is not a duration", `write it in Go syntax, e.g. "60s"`)
	default:
		if _, err := card.NewSealer([]card.Key{dummyKey}, dummyKey.ID, now, card.WithSkew(skew)); err != nil {
			ds.Error(setQRSkew, "range", "qrSkew is out of range", fmt.Sprintf("use 0s to %s", card.MaxSkew))
		}
	}

	// qrValidity
	v, err := time.ParseDuration(settingValue(given, setQRValidity))
	switch {
	case err != nil:
		ds.Error(setQRValidity, "type", "qrValidity is not a duration", `write it in Go syntax, e.g. "72h"`)
	case v < time.Second || v > card.MaxValidity:
		ds.Error(setQRValidity, "range", "qrValidity is out of range", fmt.Sprintf("use 1s to %s", fmtDuration(card.MaxValidity)))
	default:
		cfg.validity = v
	}

	// qrImageSize
	size, err := strconv.Atoi(settingValue(given, setQRImageSize))
	switch {
	case err != nil:
		ds.Error(setQRImageSize, "type", "qrImageSize is not a whole number", "give the side of the QR image in pixels, e.g. 256")
	case size < minImageSize || size > card.MaxImageSize:
		ds.Error(setQRImageSize, "range", "qrImageSize is out of range", fmt.Sprintf("use %d to %d pixels", minImageSize, card.MaxImageSize))
	default:
		cfg.imageSize = size
	}

	// The card-number rule.
	rule, ruleDiags := parseRule(given)
	ds = append(ds, ruleDiags...)
	cfg.rule = rule
	switch mode := settingValue(given, setCardNumbers); mode {
	case numbersSequential:
	case numbersShuffled:
		if len(ruleDiags) == 0 && cfg.identitySecret != nil {
			perm, err := card.NewPermutation(cfg.identitySecret, rule.Width)
			if err != nil {
				ds.Error(setCardNumbers, "format", "card numbers cannot be shuffled", err.Error())
			}
			cfg.perm = perm
		}
	default:
		ds.Error(setCardNumbers, "enum", fmt.Sprintf("cardNumbers %q is not known", mode), fmt.Sprintf("use %s or %s", numbersShuffled, numbersSequential))
	}
	reveal := settingValue(given, setRevealIdentity)
	if b, err := strconv.ParseBool(reveal); err != nil {
		ds.Error(setRevealIdentity, "type", fmt.Sprintf("revealIdentity %q is not true or false", reveal), "write true or false")
	} else {
		cfg.revealAllowed = b
	}
	acceptV1 := settingValue(given, setAcceptV1Codes)
	if b, err := strconv.ParseBool(acceptV1); err != nil {
		ds.Error(setAcceptV1Codes, "type", fmt.Sprintf("acceptV1Codes %q is not true or false", acceptV1), "write true or false")
	} else {
		cfg.acceptV1 = b
	}
	timeout, err := time.ParseDuration(settingValue(given, setLookupTimeout))
	if err != nil || timeout < 100*time.Millisecond || timeout > 30*time.Second {
		ds.Error(setLookupTimeout, "range", "tempCardLookupTimeout is not a duration from 100ms to 30s", `write it in Go syntax, e.g. "3s"`)
	}
	token := secret(settingValue(given, setTempCardLookupToken))
	tokenOK := checkLookupToken(token, &ds)
	switch lookup := settingValue(given, setTempCardLookup); lookup {
	case lookupLinks, lookupNone:
		cfg.tempLookup = lookup
		if token != "" {
			ds.Warn(setTempCardLookupToken, "unused", "tempCardLookupToken is set but not used",
				fmt.Sprintf("it is sent only to a HIS lookup service, and tempCardLookup is %s; set tempCardLookup to the service's URL, or remove the token", lookup))
		}
	default:
		his, err := parseLookup(lookup, token, timeout)
		if err != nil {
			ds.Error(setTempCardLookup, "format", "tempCardLookup is not links, none or a usable URL", err.Error()+"; use links, none, or the http(s) URL of the HIS lookup service")
		} else if token != "" && tokenOK && his.plain && !his.loopback {
			// A bearer token in clear text is read by anyone on the
			// network path and replayed to the service.
			ds.Error(setTempCardLookupToken, "insecure", fmt.Sprintf("tempCardLookupToken would be sent over plain http to %s", his.shown),
				"anyone on the network path could read the token and use it: set tempCardLookup to the https URL of the HIS lookup service, "+
					"or remove the token if the service asks for none (plain http with a token is allowed only to this machine: localhost, 127.0.0.1 or ::1)")
		}
		cfg.tempLookup, cfg.his = lookupHIS, his
	}

	if ds.HasError() {
		return nil, ds
	}
	// The site's codes carry its site code, so another site that holds the
	// same keys refuses them (card.ErrOtherSite); version-1 codes name no
	// site and are refused only when acceptV1Codes is false.
	s, err := card.NewSealer(keys, active, now, card.WithPrefix(prefix), card.WithSkew(skew), card.WithSite(site),
		card.WithLegacyCodes(cfg.acceptV1))
	if err != nil {
		// Every part was checked above; this is a safety net.
		ds.Error(setQRKeys, "format", "the QR settings are unusable", err.Error())
		return nil, ds
	}
	cfg.sealer, cfg.activeKey, cfg.keyIDs = s, active, named
	return cfg, ds
}

// checkLookupToken reports a tempCardLookupToken that cannot be sent as
// "Authorization: Bearer <token>", without showing it.
func checkLookupToken(token secret, ds *sdk.Diagnostics) bool {
	t := string(token)
	switch {
	case t == "":
		return true
	case strings.HasPrefix(strings.ToLower(t), "bearer "):
		ds.Error(setTempCardLookupToken, "format", "tempCardLookupToken starts with the word Bearer",
			"medgate adds \"Bearer \" itself; put only the token in the secret")
		return false
	case strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r > '~' }):
		ds.Error(setTempCardLookupToken, "format", "tempCardLookupToken has a space, a line break, a control or a non-ASCII character",
			"a bearer token is one word of visible ASCII characters; put only the token in the secret (a secret file's surrounding whitespace is removed)")
		return false
	}
	return true
}

// minImageSize leaves at least two pixels per module for the largest QR code
// the sealer produces (version 4, 33 modules plus the quiet zone).
const minImageSize = 96

// parseRule checks the card-number settings one by one, so that each problem
// names its setting, and then the assembled rule as a whole.
func parseRule(given map[string]string) (card.NumberRule, sdk.Diagnostics) {
	var ds sdk.Diagnostics
	r := card.NumberRule{
		Prefix:     settingValue(given, setCardPrefix),
		CheckDigit: settingValue(given, setCardCheck),
	}
	prefixOK := card.NumberRule{Prefix: r.Prefix, Width: 1, CheckDigit: card.CheckLuhn}.Validate() == nil
	if !prefixOK {
		ds.Error(setCardPrefix, "format", "cardPrefix is invalid", fmt.Sprintf("%q must be 1-8 digits, e.g. \"8801\"", r.Prefix))
	}
	if r.CheckDigit != card.CheckMod11_2 && r.CheckDigit != card.CheckLuhn {
		ds.Error(setCardCheck, "enum", "cardCheck is not supported", fmt.Sprintf("%q must be %q or %q", r.CheckDigit, card.CheckMod11_2, card.CheckLuhn))
	}
	w, err := strconv.Atoi(settingValue(given, setCardWidth))
	switch {
	case err != nil:
		ds.Error(setCardWidth, "type", "cardWidth is not a whole number", "give the number of sequence digits, e.g. 10")
	case w < 1:
		ds.Error(setCardWidth, "range", "cardWidth must be at least 1", "give the number of sequence digits, e.g. 10")
	case prefixOK && len(r.Prefix)+w+1 > card.MaxCardNoLen:
		ds.Error(setCardWidth, "range", "card numbers would be too long",
			fmt.Sprintf("cardPrefix (%d) + cardWidth (%d) + 1 check character is %d; the maximum is %d, so shorten the prefix or the width",
				len(r.Prefix), w, len(r.Prefix)+w+1, card.MaxCardNoLen))
	default:
		r.Width = w
	}

	raw := settingValue(given, setTempCardPrefixes)
	seen := map[string]bool{}
	for i, tp := range strings.Split(raw, ",") {
		tp = strings.TrimSpace(tp)
		switch {
		case tp == "" && raw == "":
			ds.Error(setTempCardPrefixes, "required", "tempCardPrefixes is required",
				`list the prefixes of the hospital's temporary-card numbers, e.g. "99,98", so e-card numbers never collide with them`)
		case card.NumberRule{Prefix: tp, Width: 1, CheckDigit: card.CheckLuhn}.Validate() != nil:
			ds.Error(setTempCardPrefixes, "format", fmt.Sprintf("temporary-card prefix %d is invalid", i+1),
				fmt.Sprintf("%q must be 1-8 digits; separate prefixes with commas", tp))
		case seen[tp]:
			ds.Error(setTempCardPrefixes, "format", fmt.Sprintf("temporary-card prefix %q is listed twice", tp), "remove the duplicate")
		case prefixOK && (strings.HasPrefix(r.Prefix, tp) || strings.HasPrefix(tp, r.Prefix)):
			ds.Error(setTempCardPrefixes, "overlap", fmt.Sprintf("cardPrefix %q overlaps temporary-card prefix %q", r.Prefix, tp),
				"e-card and temporary-card numbers could collide; choose a cardPrefix where neither starts with the other")
		default:
			r.TempPrefixes = append(r.TempPrefixes, tp)
		}
		seen[tp] = true
	}
	if !ds.HasError() {
		// Safety net: the card package has the last word on the rule.
		for _, e := range splitErrors(r.Validate()) {
			ds.Error(setCardPrefix, "format", "the card-number rule is invalid", e.Error())
		}
	}
	return r, ds
}

// parseKeys parses "id:hex,id:hex". Entries may also be separated by
// whitespace or newlines, as in a key file. Diagnostics never quote a
// secret, and quote an id only when it is short enough not to be one.
//
// named holds every well-formed key id, including those of entries whose
// secret is bad, so that qrActiveKey is only reported when it names no entry.
func parseKeys(raw string) (keys []card.Key, named map[string]bool, ds sdk.Diagnostics) {
	named = map[string]bool{}
	entries := strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
	if len(entries) == 0 {
		ds.Error(setQRKeys, "required", "qrKeys is required",
			"set it to env:NAME or file:/path holding id:secret pairs such as A:<32 hex characters>; generate each secret with `openssl rand -hex 16`")
		return nil, named, ds
	}
	for i, e := range entries {
		where := fmt.Sprintf("qrKeys entry %d", i+1)
		id, secret, ok := strings.Cut(e, ":")
		if !ok {
			ds.Error(setQRKeys, "format", where+" has no id", "write each key as id:secret, e.g. A:<32 hex characters>")
			continue
		}
		if len(id) != 1 || !(id[0] >= '0' && id[0] <= '9' || id[0] >= 'A' && id[0] <= 'Z') {
			ds.Error(setQRKeys, "format", fmt.Sprintf("%s: key id %s is invalid", where, quoteShort(id)), "a key id is one character 0-9 or A-Z")
			continue
		}
		named[id] = true
		b, err := hex.DecodeString(secret)
		if err != nil || len(b) != 16 {
			ds.Error(setQRKeys, "format", fmt.Sprintf("%s (id %s): the secret is not 32 hex characters", where, id),
				"generate a 16-byte secret with `openssl rand -hex 16`")
			continue
		}
		k := card.Key{ID: id}
		copy(k.Secret[:], b)
		if k.Secret == ([16]byte{}) {
			ds.Error(setQRKeys, "format", fmt.Sprintf("%s (id %s): the secret is all zero", where, id),
				"generate a random 16-byte secret with `openssl rand -hex 16`")
			continue
		}
		keys = append(keys, k)
	}
	return keys, named, ds
}

func hasKey(keys []card.Key, id string) bool {
	for _, k := range keys {
		if k.ID == id {
			return true
		}
	}
	return false
}

func keyIDs(keys []card.Key) string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return strings.Join(ids, ", ")
}

// quoteShort quotes s when it is short enough that it cannot be a secret
// pasted into the wrong place.
func quoteShort(s string) string {
	if len(s) <= 4 {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("(%d characters, not shown)", len(s))
}

// splitErrors returns the errors joined in err, or err itself.
func splitErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// fmtDuration prints whole hours as "72h" instead of "72h0m0s".
func fmtDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}
