package sdk

import "context"

// JournalAheadHost is a Host that can send the journal entry it holds for
// the Handle response ahead of the next external call. Call it through
// [SendJournal].
type JournalAheadHost interface {
	SendJournal(ctx context.Context)
}

// SendJournal tells the host client that the plugin is about to make
// another external call for the message it handles (a confirmation of an
// answer, say). The journal entry of the message's last exchange, held to
// go with the Handle response, then starts on its way to the host at
// once, in the background, instead of when the next exchange's entry comes
// after that call: the round trip, and moving a large entry, overlap the
// external call instead of following it.
//
// Nothing else changes: the next Host.Journal call, the Handle response
// and a Handle that fails each wait until the host has answered for the
// entry sent ahead, so at every point where the entry was in the host
// before it is in the host now, only sooner; an error of its Journal call
// is returned by the next Host.Journal call, as it was when that call sent
// it. With a host that holds nothing (no Handle, another host
// implementation) SendJournal does nothing.
func SendJournal(ctx context.Context, h Host) {
	if jh, ok := h.(JournalAheadHost); ok {
		jh.SendJournal(ctx)
	}
}

// SendJournal implements [JournalAheadHost].
func (h *hostClient) SendJournal(ctx context.Context) {
	h.held.send(context.WithoutCancel(ctx), h)
}

var _ JournalAheadHost = (*hostClient)(nil)
