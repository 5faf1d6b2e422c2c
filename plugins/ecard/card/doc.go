// Package card holds the pure logic behind hospital electronic cards
// (医院电子就诊卡, "e-cards"): identity checks, card numbers, sealed QR codes,
// scan classification, QR images and printable labels.
//
// The package does no I/O of its own. Clocks, randomness and secrets come in
// through arguments, and storage (the sequence counter, the identity-key index
// and revocation) belongs to the caller.
//
// # Identities
//
// [ValidateIdentity] (and [ValidateIdentityAt], which also refuses birth dates
// after today) checks a registration form and returns every problem as a
// [FieldError] that names a JSON path (for example "$.idNumber") and says how
// to fix it. [IdentityKey] turns the document type and number into a keyed
// HMAC-SM3 digest. The store can then enforce "one person, one card" without
// keeping the raw ID number as a key. The supported document types are listed
// at [IDTypeResidentCard]. Holders of documents that are not mainland ones
// may give an international phone number ([AcceptsInternationalPhone],
// [NormalizePhone]). A newborn without an ID of its own is an [Identity]
// with a [Guardian] and a birth order, keyed by the guardian's ID, the
// birth date and the birth order.
//
// # Card numbers
//
// A [NumberRule] builds numbers as Prefix + zero-padded sequence + one check
// character. The check is ISO 7064 MOD 11-2 (may end in X) or Luhn. The rule
// refuses any prefix that overlaps a temporary-card prefix (either one is a
// prefix of the other), so a card number can never equal a temporary-card
// number, whatever their lengths. The caller takes sequences from an atomic
// counter in its store and never reuses them.
//
// # Sealed QR text, format version 2
//
// A [Sealer] produces and opens the text carried by the QR code:
//
//	text    = PREFIX VERSION BASE32(body)
//	PREFIX  = 2–4 letters A–Z, not all in A–F (default "MGE"; see WithPrefix)
//	VERSION = "2"
//	BASE32  = RFC 4648 alphabet A–Z 2–7, no padding, canonical (unused
//	          trailing bits are zero)
//	body    = KID(1) || NONCE(12) || SM4-GCM(key[KID], NONCE, payload, AAD) || TAG(16)
//	AAD     = PREFIX || VERSION || KID           (ASCII bytes)
//	KID     = the key ID, one ASCII character 0–9 or A–Z
//	payload = PV(1) || ISSUED(4) || VALIDITY(1–4) || SITE(4) || CARDNO(1–8)
//	PV       = 0x02, the payload version, equal to VERSION
//	ISSUED   = issue time, Unix seconds, uint32 big-endian
//	VALIDITY = seconds from ISSUED to expiry, unsigned LEB128 varint,
//	           1 s to MaxValidity; expiry = ISSUED + VALIDITY
//	SITE     = the site tag: the first 4 bytes of
//	           SM3("medgate-ecard-site" || 0x00 || site code) (see SiteTag)
//	CARDNO   = the card number as packed BCD, two characters per byte with the
//	           high nibble first; '0'–'9' are 0x0–0x9 and a final 'X' is 0xA; an
//	           odd length ends with a 0xF nibble
//
// The code is valid from ISSUED − skew (skew defaults to 60 s) up to, but not
// including, the expiry second, and only at the site whose tag it carries
// ([WithSite]; another site gets [ErrOtherSite], even when it holds the same
// key). The whole text uses the QR alphanumeric character set, so the QR
// stays small. A 16-character card number with the longest validity and a
// 4-letter prefix gives 85 characters, 83 with the default prefix and a
// 15-character number (QR version 4 at error-correction level M holds 90).
// It has no lower-case letter, so [Sealer.Open] reads a text typed in lower
// case (a keyboard-wedge scanner with Caps Lock on) in upper case.
// The 12-byte nonce is random for every code and is returned in [Claims].
// A double-spend cache may use it.
//
// Format version 1, printed before the site was sealed in, is version 2
// without SITE: VERSION "1", PV 0x01, AAD PREFIX || "1" || KID. [Sealer.Open]
// still reads it, at every site that holds its key, so codes already in
// patients' hands keep working until they expire (at most MaxValidity after
// they were printed); Seal no longer produces it. [WithLegacyCodes](false)
// refuses them with [ErrLegacyCode]: use it once every version-1 code has
// expired (MaxValidity, or the longest validity the site printed with,
// after the upgrade), or at once at a site that shares its key with
// another and must not read the other site's codes. Removing the key that
// sealed them refuses them too, as [ErrUnknownKey], but also every
// version-2 code sealed with it.
//
// Keys are rotated by adding a key with a new KID and making it active. Codes
// sealed under older keys still open as long as their key stays configured.
// Open reports [ErrNotECard], [ErrUnknownKey], [ErrTampered], [ErrLegacyCode], [ErrOtherSite],
// [ErrNotYetValid] or [ErrExpired] (as an *[ExpiredError]). [ErrRevoked] is
// for the caller's store lookup after a successful Open.
//
// Verification happens on the server only. Keys never go to scanners, apps
// or HIS vendors. Vendors may rely on the layout above to recognise a code
// and send it to the gateway.
//
// # Classification
//
// [Classify] tells the hospital e-card apart from codes a scanner may also
// read: national health-card QR text (64 hex characters, optionally followed
// by ":1" or ":0:<32 hex>[:issuer]"), 18-character resident ID numbers with a
// valid check character, and 20-digit drug trace codes (追溯码) that start
// with 8. It knows nothing of a site's temporary-card prefixes; the adapter
// answers a number starting with one of them as a temporary card before
// it looks at the generic resident-ID and trace-code shapes.
//
// # Images and labels
//
// [QRPNG] renders a QR code as a PNG (error-correction level M). [Label]
// builds the printable label text: card number, masked name and
// "有效期至 YYYY-MM-DD HH:MM". [LabelPNG] draws the QR code with the ASCII
// lines underneath (card number, "VALID UNTIL …") in the 7×13 bitmap font of
// golang.org/x/image/font/basicfont, which has no Chinese glyphs: print
// [LabelText.Name] and [LabelText.ValidUntil] with the printer's own CJK
// font (the console's print page does).
//
// [MaskName], [MaskIDNumber] and [MaskPhone] hide personal data in logs.
package card
