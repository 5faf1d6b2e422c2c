package schemas

import (
	"bytes"
	"testing"
)

func TestWriteYAMLNil(t *testing.T) {
	t.Parallel()
	if err := WriteYAML(&bytes.Buffer{}, nil); err == nil {
		t.Error("WriteYAML(nil) succeeded")
	}
}
