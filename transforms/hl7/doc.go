// Package hl7 reads HL7 version 2 messages: the ER7 ("pipe and hat")
// encoding, its escape sequences, field repetitions, the character set a
// message declares in MSH-18 (UTF-8 and GB 18030 among others) and MLLP
// framing.
//
// [Parse] turns one message into a [Message]. Values are read with a
// [Location] written the usual way, segment-field(repetition).component.
// subcomponent, for example "PID-5.1", "PID-3(2).1", "DG1[2]-3.1" or
// "PID-3(5=SS).1" (the repetition whose component 5 is "SS"). Values come
// back unescaped, as UTF-8 text.
//
// A message is decoded to UTF-8 before it is split, so multi-byte GB 18030
// characters whose trailing byte looks like a delimiter ("|", "^", "~",
// "\") never split a value. [Reader] reads messages one after another from
// an MLLP stream (a socket) or from a file of plain messages, and [Writer]
// writes MLLP frames.
//
// The package has no notion of message structures (which segments a
// message type must have); the mapping engine in the parent package decides
// what to read.
package hl7
