// Package smenvelope implements the configurable SM4+SM2 hybrid envelope of the
// work-injury (工伤保险异地就医系统) interface. The gateway's adapter and its
// simulator use the same code with the keys swapped: each side holds its own
// SM2 private key and the other side's public key (Keys, KeyStore).
//
// Sealing (Seal): a fresh random SM4 key per message; the business JSON
// encrypted with SM4 and PKCS#7 padding; the SM4 key encrypted with the peer's
// SM2 public key; an SM2-with-SM3 signature with our private key and the SM2
// user id (default "1234567812345678"). SealJSON is Seal returning the JSON
// body itself (the bytes json.Marshal would write), without encoding/json's
// passes over the encrypted data. Opening (Open): the signature is
// checked before anything is trusted (a missing or bad signature is a
// *SignatureError, errors.Is ErrBadSignature), then the key and the data are
// decrypted. A non-success response without data is a *BusinessError.
//
// # What is inferred
//
// The official specification (《工伤保险异地就医系统接口技术规范》 V1.5.02) is
// not public. The only parts taken from the requirements are: JSON over HTTP
// POST, business data encrypted with SM4, the SM4 key encrypted with SM2, an SM2
// signature on requests and verification of responses. EVERYTHING ELSE IS
// INFERRED from public analogues (the NHSA interface, the pre-2018 MOHRSS
// cross-province system, and a node gateway using the same hybrid pattern with
// Hutool/BouncyCastle defaults) and is a setting in Options, with these
// defaults (see Defaults):
//
//   - Field names: infno, msgid, sender, receiver, timestamp, version, key,
//     data, sign, signType, code, message (Options.Fields).
//   - Success codes "0" and "0000" (Options.SuccessCodes).
//   - SM2 ciphertext layout C1C3C2 with the 04 point prefix (CipherOrder,
//     PointPrefix); alternatives C1C2C3 and ASN.1 (GM/T 0009).
//   - Signature DER (SigFormat); alternative 64-byte r‖s.
//   - Text encoding standard base64 (Encoding); alternatives hex and HEX.
//   - The signature covers the business plaintext (SignTarget); alternatives
//     the encoded ciphertext, or a canonical k=v&… string of the envelope.
//   - SM4-ECB (SM4Mode); alternative CBC with a random IV sent in front of the
//     ciphertext, or a fixed configured IV (SM4IV).
//   - SM4 key as 16 random bytes (KeyForm); alternatives 16 printable ASCII
//     characters, or 32 hex characters standing for 16 bytes.
//   - User id "1234567812345678" (UID), sign type value "SM2", timestamp layout
//     "2006-01-02 15:04:05" in UTC+8.
//   - Unsigned error responses (code not a success code, no data) are reported
//     as an unverified *BusinessError rather than a signature failure
//     (UnsignedErrors).
//   - Open is lenient about the SM2 layout, point prefix, signature format and
//     key form (it tries the others when the configured one fails; both SM2
//     decryption and signature verification are authenticated, so this cannot
//     accept forged input). Set StrictOpen to accept only the configured forms.
//
// # Changing the defaults
//
// Start from Defaults() and change fields, or unmarshal the site
// configuration (JSON/YAML tags are given) on top of Defaults() so that unset
// values, including the boolean defaults that are true, keep their defaults;
// then call Options.Validate, which lists every problem at once. A zero Options
// is invalid. Fix the real values from the first GYU000 (connectivity test)
// exchange with the test environment or from the specification, and keep the
// round-trip tests for every combination.
//
// # Keys
//
// ParsePrivateKey and ParsePublicKey accept PEM, DER, hex and raw forms;
// ImportKey writes the canonical PEM with mode 0600 (`medgate import-keys`);
// KeyStore loads the files (refusing a private key file readable by others or
// owned by another user), and Reload/Watch rotate keys without a restart while
// keeping the old keys if the new ones fail to load. Keys, KeyStore and Secret
// redact themselves in String, GoString and slog output, and no error carries
// key material or plaintext.
//
// # Self-test
//
// SelfTest checks the SM2, SM3 and SM4 implementation against known answers
// once per process (the GM/T examples, and a vector that gmsm before v0.44.1
// computed wrongly on amd64 CPUs with ADX and BMI2), and NewKeyStore refuses
// keys when it fails (ErrSelfTest), so a library that is wrong on its machine
// is found at start rather than in a rare envelope that fails.
//
// Note from the emmansun/gmsm documentation: on CPUs with AES-NI, single-block
// SM4 uses table lookups unless FORCE_SM4BLOCK_AESNI=1 is set in the
// environment; bulk ECB and CBC decryption use SIMD either way.
package smenvelope
