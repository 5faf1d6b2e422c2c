package ingress

// Dependencies whose failures the ingress marks (DependencyError).
const (
	// Kafka: a write to the request topic (a request, a reference to a
	// recorded one, a replay), or the pipeline's answer to a request not
	// admitted, whose one dependency is Kafka (see Ingress.Process).
	Kafka = "kafka"
	// Store: a call to the store (recording a request, reading an
	// outcome, reopening a message to replay).
	Store = "store"
)

// DependencyError is an error of Process or Replay caused by a call to
// one of the ingress's dependencies, Kafka or the store: Dependency says
// which, since Err alone may not (a network error or a deadline may be
// either's). Whether it passes (a broker restarting, the database
// unreachable) or needs an administrator (a topic missing) is for the
// caller to judge from Err; an error of Process or Replay without it is
// neither's (an unreadable stored reply, a fault of medgate). Its text is
// Err's.
type DependencyError struct {
	Dependency string
	Err        error
}

func (e *DependencyError) Error() string { return e.Err.Error() }

// Unwrap returns Err, so errors.Is still finds store.ErrNotFound and the
// like.
func (e *DependencyError) Unwrap() error { return e.Err }

// kafkaErr marks err as a write to Kafka's (nil stays nil).
func kafkaErr(err error) error {
	if err == nil {
		return nil
	}
	return &DependencyError{Dependency: Kafka, Err: err}
}

// storeErr marks err as a call to the store's (nil stays nil).
func storeErr(err error) error {
	if err == nil {
		return nil
	}
	return &DependencyError{Dependency: Store, Err: err}
}
