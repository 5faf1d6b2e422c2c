package sdk

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// stateTag starts a tagged state value: "\x00state/v", the format version
// in decimal, "\x00", then the value. A value written untagged is JSON or
// text in practice, which hardly ever starts with a NUL byte.
var stateTag = []byte("\x00state/v")

// MaxStateFormat is the highest format version [TagState] takes.
const MaxStateFormat = 999999

// ErrNewerState: a state value was written in a format newer than the
// reading code knows, by a newer version of the plugin (see [UntagState]).
var ErrNewerState = errors.New("sdk: state written by a newer version of the plugin")

// TagState returns value tagged with its format version (1 to
// [MaxStateFormat]), to be stored with Host.Put, CompareAndSet or
// [WriteState] and read back with [UntagState]. The tag takes 11 to 16
// bytes. It panics on a format outside that range: a constant of the
// plugin's code, not data.
func TagState(format int, value []byte) []byte {
	if format < 1 || format > MaxStateFormat {
		panic(fmt.Sprintf("sdk.TagState: format %d is not between 1 and %d", format, MaxStateFormat))
	}
	out := make([]byte, 0, len(stateTag)+11+len(value))
	out = append(out, stateTag...)
	out = strconv.AppendInt(out, int64(format), 10)
	out = append(out, 0)
	return append(out, value...)
}

// UntagState returns the format version a state value was written in and
// the value without its tag. A value written without [TagState] (by a
// version of the plugin from before it tagged its state) is format 0,
// returned as it is. A format above newest, the newest the calling code
// knows, is refused with an error that wraps [ErrNewerState] and says
// what to do (the value is not returned): see "Versioned state" in the
// package documentation.
func UntagState(stored []byte, newest int) (format int, value []byte, err error) {
	rest, ok := bytes.CutPrefix(stored, stateTag)
	if !ok {
		return 0, stored, nil
	}
	digits, value, ok := bytes.Cut(rest, []byte{0})
	n, convErr := strconv.Atoi(string(digits))
	if !ok || convErr != nil || n < 1 || len(digits) > 10 || digits[0] == '0' {
		// Not a tag TagState wrote: a value that happens to begin so.
		return 0, stored, nil
	}
	if n > newest {
		return n, nil, fmt.Errorf("%w: format %d, this version of the plugin reads formats up to %d; reinstall the version that wrote it (or a newer one): the value is left as it is", ErrNewerState, n, newest)
	}
	return n, value, nil
}
