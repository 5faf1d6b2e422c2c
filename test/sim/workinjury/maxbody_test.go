package workinjury

import (
	"testing"

	"github.com/medgate/medgate/schemas"
)

// TestMaxBodyFitsTheLargestGYU002: the simulator reads a whole request of
// the largest GYU002 the schema allows (batchLimit items, each with a
// file_content of its maxLength), sealed with the widest text encoding the
// envelope may use (hex: two characters a byte of SM4 ciphertext), so that
// it never cuts off a legitimate attachment upload.
func TestMaxBodyFitsTheLargestGYU002(t *testing.T) {
	t.Parallel()
	sc, ok := schemas.Embedded().Get("workinjury", "GYU002")
	if !ok {
		t.Fatal("no embedded GYU002 schema")
	}
	content := 0
	for _, f := range sc.Input {
		for _, g := range f.Fields {
			if f.Name == "attachments" && g.Name == "file_content" {
				content = g.MaxLength
			}
		}
	}
	if content == 0 || sc.BatchLimit == 0 {
		t.Fatalf("GYU002 declares no file_content length (%d) or batch limit (%d)", content, sc.BatchLimit)
	}
	// The other fields of the items and the envelope: generously 1 MiB.
	need := int64(sc.BatchLimit)*int64(content)*2 + 1<<20
	if maxBody < need {
		t.Fatalf("maxBody is %d bytes, but a GYU002 of %d attachments of %d base64 bytes sealed in hex needs %d", maxBody, sc.BatchLimit, content, need)
	}
}
