// Package adapter implements the workinjury plugin: medgate's adapter for
// the national work-injury insurance remote-medical system
// (工伤保险异地就医系统), reached through the provincial business system over
// HTTP with JSON in the SM4+SM2 envelope of package smenvelope.
//
// Every message type is "workinjury.<code>" for the 39 transactions of
// schemas/workinjury. Each message is checked before anything is sent: the
// schema (required, length, type, enum, batch limit) and the business rules
// in rules.go, all errors at once with their JSON paths. Then:
//
//   - queries are sent as they are (a retry simply asks again);
//   - uploads record their serial in host state before the request leaves;
//     an attempt whose outcome is unknown is reconciled with the general
//     transaction query GYD053 before anything is resent (upload.go);
//   - the incremental downloads (GYD001, GYD006, GYD009, GYD101–GYD103,
//     GYD003–GYD005, GYD401–GYD404) run the resumable workflow of
//     download.go: fetch ≤500, store, publish each record as an event,
//     acknowledge with GYU008; GYD008 and GYR005 recover a lost batch.
//
// Scheduled jobs every 30 minutes: GYD001 (with GYD054 attachments),
// GYD006, and GYU009 (upload of the province's institutions file).
//
// Every external call is journaled with its serial, as sent and received
// (the encrypted envelope). Keys and business data are never logged; log
// lines carry transaction codes, serials, batch numbers and counts only.
//
// What is medgate's reconstruction rather than the official specification
// (which is not public) is listed in the plugin's README.md.
package adapter
