package bus

import (
	"sync"
	"time"
)

// retryLogEvery is how often, at most, a partition logs again the retries
// of its messages that fail for one cause (see retryLog).
const retryLogEvery = time.Minute

// maxRetryCauses is how many causes a partition's retryLog tells apart at
// once. Past it, causes not logged for retryLogEvery are forgotten; if
// none is, the retry is logged (never hidden for want of room).
const maxRetryCauses = 64

// retryLog keeps a partition's log of handler retries from flooding:
// while the store refuses writes every message of the partition fails,
// each retried with backoff, and a WARN per retry of every message says
// nothing the first did not (the store raises its own ALERT once a
// minute). It logs the first retry of a cause, then at most one every
// retryLogEvery with how many retries of that cause were not logged
// meanwhile. A cause is what Config.RetryCause names, else the error's
// text: a retry failing for another cause is logged at once. The count of
// a cause forgotten (see maxRetryCauses), or whose retries stop, is lost
// from the log. It is safe for concurrent use.
type retryLog struct {
	mu     sync.Mutex
	causes map[string]*retryCause
}

// retryCause is what a retryLog remembers of one cause.
type retryCause struct {
	logged   time.Time // when a retry of it was last logged
	unlogged int       // its retries since, not logged
}

// note records a retry failing for cause at now. It reports whether to
// log it, and how many retries of cause were not logged since the last
// one logged.
func (l *retryLog) note(cause string, now time.Time) (log bool, unlogged int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.causes[cause]
	if c == nil {
		if l.causes == nil {
			l.causes = map[string]*retryCause{}
		}
		if len(l.causes) >= maxRetryCauses {
			for k, old := range l.causes {
				if now.Sub(old.logged) >= retryLogEvery {
					delete(l.causes, k)
				}
			}
			if len(l.causes) >= maxRetryCauses {
				return true, 0
			}
		}
		l.causes[cause] = &retryCause{logged: now}
		return true, 0
	}
	if now.Sub(c.logged) < retryLogEvery {
		c.unlogged++
		return false, 0
	}
	n := c.unlogged
	c.logged, c.unlogged = now, 0
	return true, n
}
