// Package adapter is the ecard plugin: the hospital's own electronic card
// (医院电子就诊卡) on top of the pure logic in package card.
//
// Operations (message types; payloads are JSON):
//
//	ecard.register    identity → e-card number; one person, one card
//	ecard.qrcode      card number → sealed, time-limited QR text, PNG and label
//	ecard.scan        scanned text → card and patient, or why it is refused
//	ecard.revoke      revoke a card; its codes stop scanning
//	ecard.link        link a temporary card (临时卡) to an e-card
//	ecard.get         a card with its linked temporary cards
//	ecard.cards.list  the "recent-cards" work list for the console
//
// # State
//
// The plugin keeps everything in the host's state store, namespaced by site:
//
//	card/<cardNo>          the card record: identity, status, temporary cards
//	person/<identityKey>   the card number of a person (card.IdentityKey)
//	temp/<tempCardNo>      the e-card a temporary card is linked to
//	recent/<inverted seq>  a masked summary for the work list, newest first
//
// Card numbers come from the host's sequence "ecard.cardNo", which is atomic
// across instances. A registration first writes the card record under its
// new number, then claims the person with compare-and-set (expect version 0,
// or the version that pointed at a revoked card). The loser of a race deletes
// its unused record and returns the winner's card, so a number is never
// issued twice and never reused; a failed registration only skips a number.
//
// A scan opens the code with the site's [card.Sealer] and then reads the card
// record: one state read per scan.
//
// Registrations and revocations are journaled (system "ecard") with names,
// ID numbers and phones masked. The events "ecard.registered",
// "ecard.revoked" and "ecard.linked" (key: the card number) carry no raw
// personal data; HIS systems call ecard.get for the identity.
package adapter
