package export

import (
	"bytes"
	"os"
	"reflect"
	"unsafe"

	"github.com/xuri/excelize/v2"
)

// releaseBuffer frees the in-memory buffer of a flushed stream writer
// whose rows went to its temporary file, and reports whether it did.
//
// excelize keeps each sheet's rows in a bytes.Buffer that spills to a
// temporary file past 16 MB (StreamChunkSize) and is only Reset, keeping
// its 16–32 MB backing array, until the workbook is saved: every large
// sheet of an export would hold that much memory to the end. excelize
// offers no way to release it, so this reaches the unexported field
// (StreamWriter.rawData.buf) by reflection. It does nothing unless the
// fields are exactly as expected (a *os.File spill file and an empty
// bytes.Buffer), so a change of excelize's internals costs memory, never
// data; TestReleaseBuffer fails when the fields are no longer found.
func releaseBuffer(sw *excelize.StreamWriter) bool {
	raw := reflect.ValueOf(sw).Elem().FieldByName("rawData")
	if !raw.IsValid() || raw.Kind() != reflect.Struct {
		return false
	}
	tmp, buf := raw.FieldByName("tmp"), raw.FieldByName("buf")
	if !tmp.IsValid() || tmp.Type() != reflect.TypeFor[*os.File]() || tmp.IsNil() ||
		!buf.IsValid() || buf.Type() != reflect.TypeFor[bytes.Buffer]() || !buf.CanAddr() {
		return false
	}
	b := (*bytes.Buffer)(unsafe.Pointer(buf.UnsafeAddr()))
	if b.Len() != 0 {
		return false // rows not yet in the file: keep them
	}
	*b = bytes.Buffer{}
	return true
}
