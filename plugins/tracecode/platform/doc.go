// Package platform is the HTTP client of the Xiamen drug and consumable
// trace-code platform (药品耗材追溯码一体化服务平台, "一码通").
//
// The platform's interface document is not public. Everything this client
// sends is therefore configuration with reconstructed defaults: the base
// URL and the path of every operation, the JSON field names (a rename map
// from medgate's names to the platform's), where the access token travels
// (a header or a body field), how the token request is signed (HMAC-SHA256,
// the 码上放心-style MD5 or nothing) and how answers are read (the code,
// message and data fields, and which codes mean success, an expired token,
// a duplicate document or "not found"). The defaults follow the nearest
// public analogue, Alibaba Health 码上放心's hospital API; see
// plugins/tracecode/README.md.
//
// # Tokens
//
// Every business call carries an access token; no call is made without
// one. The token is obtained with the site's app id and secret (the secret
// only keys the signature and is never sent), cached, refreshed
// RefreshBefore its expiry (after a failed refresh the valid token is used
// and the refresh tried again 30 s later), and on an authentication error refreshed once
// and the call retried once. Every token operation (issue, refresh,
// invalidation, failure) is reported to the caller's [Observer] without the
// token or the secret, so it can be kept for the operation log; exchanges
// are reported with the token redacted.
//
// The token answer's expiresIn is the token's life in seconds, or, when it
// is plainly an absolute Unix time (at least 10⁹ seconds or 10¹²
// milliseconds), its expiry; an expiry in the past or more than
// [MaxTokenLife] away is replaced by DefaultTokenTTL and reported in the
// TokenEvent's Warning.
package platform
