package outage

import (
	"errors"

	"github.com/medgate/medgate/host/internal/ingress"
)

// Dependency reports whether err, of the ingress's Process or of a
// replay or run-now the admin API and the console start, is a passing
// outage: of Kafka when the ingress marked it as a write to Kafka's
// (ingress.DependencyError, judged by Kafka), of the store when it marked
// it as the store's (judged by Store), else only when a database driver
// reports it as transient (Database), since such an error may be a
// plugin's, whose network errors are not the store's.
func Dependency(err error) (Outage, bool) {
	if de, ok := errors.AsType[*ingress.DependencyError](err); ok {
		switch de.Dependency {
		case ingress.Kafka:
			return Kafka(de.Err)
		case ingress.Store:
			return Store(de.Err)
		}
	}
	return Database(err)
}
