package export

import (
	"bytes"
	"fmt"
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

// spillMin is the size from which a finished sheet's rows still in
// memory are moved to a temporary file (spillBuffer).
const spillMin = 1 << 20

// spillBuffer moves the rows of a flushed stream writer that never
// reached StreamChunkSize (16 MB) from its in-memory buffer to a
// temporary file in dir, when they are at least spillMin bytes, and
// reports whether it did.
//
// excelize spills a sheet to its file only past 16 MB and keeps a smaller
// sheet's XML, and the up to 32 MB buffer it grew in, until the workbook
// is saved: an export of eight sheets of 15 MB each would hold 120–250 MB.
// Moved to a file the way excelize's own spill does (its bufferedWriter's
// tmp file, read back at Save and removed by Close), each finished sheet
// costs no memory. Like releaseBuffer it reaches unexported fields and
// does nothing unless they are exactly as expected; TestSpillBuffer fails
// when they are no longer found.
func spillBuffer(sw *excelize.StreamWriter, dir string) (bool, error) {
	raw := reflect.ValueOf(sw).Elem().FieldByName("rawData")
	if !raw.IsValid() || raw.Kind() != reflect.Struct {
		return false, nil
	}
	tmp, buf := raw.FieldByName("tmp"), raw.FieldByName("buf")
	if !tmp.IsValid() || tmp.Type() != reflect.TypeFor[*os.File]() || !tmp.CanAddr() || !tmp.IsNil() ||
		!buf.IsValid() || buf.Type() != reflect.TypeFor[bytes.Buffer]() || !buf.CanAddr() {
		return false, nil
	}
	b := (*bytes.Buffer)(unsafe.Pointer(buf.UnsafeAddr()))
	if b.Len() < spillMin {
		return false, nil
	}
	f, err := os.CreateTemp(dir, "excelize-")
	if err != nil {
		return false, fmt.Errorf("move a finished sheet to a temporary file: %w", err)
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return false, fmt.Errorf("move a finished sheet to %s: %w", f.Name(), err)
	}
	*(**os.File)(unsafe.Pointer(tmp.UnsafeAddr())) = f
	*b = bytes.Buffer{}
	return true, nil
}
