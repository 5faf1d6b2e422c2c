// Package adapter is the ecard plugin: the hospital's own electronic card
// (医院电子就诊卡) on top of the pure logic in package card.
//
// Operations (message types; payloads are JSON):
//
//	ecard.register    identity → e-card number; one person, one card
//	ecard.qrcode      card number → sealed, time-limited QR text, PNG and label
//	ecard.scan        scanned text → card and patient, or why it is refused
//	ecard.revoke      revoke a card; its codes stop scanning (wrongId: it
//	                  was registered with another person's ID number)
//	ecard.link        link a temporary card (临时卡) to an e-card
//	ecard.get         a card with its linked temporary cards
//	ecard.cards.list  the "recent-cards" work list for the console
//	ecard.desk        the cashier's desk: register or find, then print; it
//	                  refuses to print a card whose stored name is not the
//	                  one typed, unless confirmName (never a newborn
//	                  of the other sex)
//	ecard.rename      correct the name stored on a card (ID number on the
//	                  card and a reason required; journaled masked)
//	ecard.phone.correct  correct the phone stored on a card, as rename
//
// The console forms and commands of rename, phone.correct and revoke
// declare the admin role (sdk.RoleAdmin); the host enforces it on people
// (console, command line), not on the platform's own messages.
//
// # State
//
// The plugin keeps everything in the host's state store, namespaced by site:
//
//	card/<cardNo>          the card record: identity, status, temporary cards
//	person/<identityKey>   the card number of a person (card.IdentityKey; for
//	                       a newborn registered under a guardian, the key of
//	                       the guardian's ID, birth date and birth order) and
//	                       the claim that issued it (no personal data)
//	number/<identityKey>   the last claim on a 港澳台居民居住证 number (81,
//	                       82, 83…), which registers as idType 09 and as 01
//	                       or 02 under two person keys: every claim on it,
//	                       under either type, is also written here with
//	                       compare-and-set, so two registrations at once,
//	                       one per type, issue one card (key: the number's
//	                       identity key as idType 01)
//	temp/<tempCardNo>      the e-card a temporary card is linked to
//	recent/<inverted seq>  a masked summary for the work list, newest first
//	prefix/<cardPrefix>    the counter value the prefix's numbers count from
//	                       (see prefixRecord)
//	qrkey/<key id>         until when codes sealed with the key stay valid at
//	                       the latest, rounded up to the hour; Configure warns
//	                       when qrKeys drops a key whose codes are still valid
//	                       (see qrKeyRecord)
//
// Card numbers come from the host's sequence "ecard.cardNo", which is atomic
// across instances, counted from the base of the site's cardPrefix: 0 for a
// prefix first used while the counter fit cardWidth, so that a new prefix
// configured when the numbers are exhausted starts its own numbers. A registration claims the person for its new number
// with compare-and-set (expect version 0, or the version that pointed at a
// revoked card) and writes the card record (expect 0), both in one
// sdk.WriteState: one transaction on medgate's stores. The loser of a race
// writes nothing and returns the winner's card, so a number is never issued
// twice and never reused; a failed registration only skips a number.
//
// A host that makes the two writes one by one writes the claim first. If
// the instance dies in between, the person points at a number without a
// card record, and the claim (sequence, message id, previous card, time)
// says how to write it: the redelivered message writes the card under that
// number and answers as its creation; another registration of the same
// person does so once the claim is older than two minutes (before that it
// is retried). No card record is ever left that no person points at.
//
// A scan opens the code with the site's [card.Sealer] and then reads the card
// record: one state read per scan.
//
// Registrations, revocations and name and phone corrections are journaled
// (system "ecard", codes register, revoke, rename and phone) with names, ID
// numbers and phones masked; a correction keeps the previous value there,
// masked. The events "ecard.registered", "ecard.revoked", "ecard.renamed",
// "ecard.phone.corrected" and "ecard.linked"
// (key: the card number) carry no raw personal data; HIS systems call
// ecard.get for the identity.
//
// A card revoked with wrongId was registered with another person's ID
// number: a card later registered with the number does not replace it.
package adapter
