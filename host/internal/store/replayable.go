package store

// WhyNotReplayable says, in words for operators, why message id, which a
// replay refused (ErrConflict: it is not failed), cannot be replayed and
// what to do instead, from m, the message as stored (nil when it could not
// be read): "message X is ok, nothing to replay (only failed messages can
// be replayed): …". It never quotes the store's own error (its engine, its
// SQL step, the sentinel "conflict"), and is the same on every engine. The
// caller adds where to look at the message (the admin API's route, the
// console's page).
func WhyNotReplayable(id string, m *Message) string {
	const only = " (only failed messages can be replayed)"
	switch {
	case m == nil:
		return "message " + id + " is not failed" + only + ", or it changed meanwhile"
	case m.Status != StatusDone:
		return "message " + id + " is pending, nothing to replay" + only + ": it is still being processed; its outcome is stored when the plugin's call ends (a failed one can then be replayed)"
	case m.Outcome == "ok":
		return "message " + id + " is ok, nothing to replay" + only + ": the external system accepted it; sending it again with the same id only gets the stored reply: to make the call again, send it as a new message with a new id"
	case m.Outcome == "rejected":
		return "message " + id + " is rejected, nothing to replay" + only + ": the external system refused it (its reply says why) and would refuse the same request again; fix what the reply names and send it as a new message with a new id"
	case m.Outcome == "invalid":
		return "message " + id + " is invalid, nothing to replay" + only + ": it failed validation and was never sent (its reply names the errors); send a corrected message with a new id"
	case m.Outcome == "failed" && m.Request == nil:
		return "message " + id + " is failed but its request was not kept (received before store schema version 2), so it cannot be replayed; send the original again as a new message with a new id"
	}
	return "message " + id + " is " + m.Outcome + ": only failed messages can be replayed (it may have changed meanwhile)"
}
