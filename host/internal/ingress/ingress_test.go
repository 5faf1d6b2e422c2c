package ingress

import (
	"testing"

	"github.com/medgate/medgate/host/internal/message"
)

// TestWaiters: a reply finished by this instance reaches every HTTP
// request waiting for its id, and nobody else.
func TestWaiters(t *testing.T) {
	t.Parallel()
	var ws waiters
	a1, a2, b := ws.add("a"), ws.add("a"), ws.add("b")
	ws.done(&message.Reply{ID: "r1", RequestID: "a"})
	for i, c := range []chan *message.Reply{a1, a2} {
		select {
		case r := <-c:
			if r.ID != "r1" {
				t.Errorf("waiter %d got %+v", i, r)
			}
		default:
			t.Errorf("waiter %d for a got nothing", i)
		}
	}
	select {
	case r := <-b:
		t.Errorf("waiter for b got %+v", r)
	default:
	}
	ws.remove("a", a1)
	ws.remove("a", a2)
	ws.remove("b", b)
	ws.done(nil)
	if len(ws.m) != 0 {
		t.Errorf("waiters left behind: %v", ws.m)
	}
}
