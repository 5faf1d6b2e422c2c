package hl7

import "strings"

// ProblemSegment writes the ERR segment of one problem medgate reports in an
// acknowledgment, in delimiters d: ERR-3 the rule and the JSON path of the
// field (rule^field^MEDGATE), ERR-4 severity (HL7 table 0516: E error, W
// warning), ERR-8 the text, all escaped. With eld (an acknowledgment to or
// of a version before v2.5, whose ERR has ERR-1 alone, required), ERR-1 is
// the rule's code in HL7 table 0357 as an ELD: ^^^code&text&HL70357 (no
// segment or field: the problems name JSON paths, in ERR-3); a warning's
// is 0, Message accepted.
func ProblemSegment(rule, field, severity, text string, d Delimiters, eld bool) string {
	esc := func(s string) string { return Escape(s, d) }
	fs, cs, ss := string(d.Field), string(d.Component), string(d.Subcomponent)
	err1 := ""
	if eld {
		code, name := table0357(rule)
		if severity == "W" {
			// Not refused: a pre-v2.5 receiver, which reads no ERR-4, must
			// not take the warning for an error.
			code, name = "0", "Message accepted"
		}
		err1 = cs + cs + cs + code + ss + name + ss + "HL70357"
	}
	return strings.Join([]string{"ERR", err1, "", esc(rule) + cs + esc(field) + cs + "MEDGATE", severity, "", "", "", esc(text)}, fs)
}

// table0357 is the HL7 table 0357 code (and its text) closest to a
// reply error's rule: 101 for a required field missing, 102 for a value
// of the wrong type or length, or a message that cannot be read, 103 for
// a value not in its code table, 207 for every other refusal.
func table0357(rule string) (code, text string) {
	switch rule {
	case "required":
		return "101", "Required field missing"
	case "length", "type", "format":
		return "102", "Data type error"
	case "enum":
		return "103", "Table value not found"
	}
	return "207", "Application internal error"
}
