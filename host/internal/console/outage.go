package console

import (
	"net/http"

	"github.com/medgate/medgate/host/internal/api/outage"
)

// retryFix is the advice of a page that a transient outage of the store
// stopped: try again, not call support.
const retryFix = "请稍候几秒后重试：数据库恢复后 medgate 会自动重连；只有持续几分钟时才告诉管理员（此时 /readyz 显示存储未就绪）。" +
	"Wait a few seconds, then reload the page or send the form again: medgate reconnects by itself once the database is back. Only if it lasts for minutes, tell the administrator: /readyz then shows the store not ready."

// storeFailed answers a page whose call to the store failed with err. A
// transient outage of the store (package outage: its database down,
// unreachable, locked or too slow, the connection lost) is 503 with
// Retry-After, naming the store and saying to try again, never the
// error's text (it names the database's host, address, account or file);
// anything else is 500, a fault to report, with what failed and how. Both
// are logged with the error.
func (c *Console) storeFailed(w http.ResponseWriter, r *http.Request, title, what string, err error) {
	if o, down := outage.Store(err); down {
		c.o.Logger.Error("console: store unavailable", "path", r.URL.Path, "dependency", o.Dependency, "err", err)
		c.fail(w, r, http.StatusServiceUnavailable, "数据库暂时不可用 (store temporarily unavailable)",
			what+": "+o.String()+". 这是暂时的故障 (a temporary outage), not a problem with your request.", retryFix)
		return
	}
	c.o.Logger.Error("console: store call failed", "path", r.URL.Path, "err", err)
	c.fail(w, r, http.StatusInternalServerError, title, what+": "+err.Error()+".",
		"这不是暂时的故障，重试无济于事：请把发生的时间告诉管理员，medgate 日志（\"console: store call failed\"）中有原因。"+
			"This is not a temporary outage, so trying again will not help: tell the administrator the time it happened; the medgate log (\"console: store call failed\") has the cause.")
}

// storeTrouble is the notice of a page that shows what it could read
// although a store call failed with err (the overview, the search, the
// board): for a transient outage, the store named and the advice to
// reload, never the error's text; else what failed, with the error.
func (c *Console) storeTrouble(r *http.Request, what string, err error) string {
	if o, down := outage.Store(err); down {
		c.o.Logger.Error("console: store unavailable", "path", r.URL.Path, "dependency", o.Dependency, "err", err)
		return what + ": " + o.String() + ". 这是暂时的故障 (a temporary outage): reload the page in a few seconds."
	}
	c.o.Logger.Error("console: store call failed", "path", r.URL.Path, "err", err)
	return what + ": " + err.Error() + ". Check /readyz and the store settings."
}

// outageLine is the flash line of a replay or run-now that a passing
// outage stopped: what is down and to try again, never the error's text
// (it names the database's host, address and account; the log has it).
// ok is false when err is no outage.
func (c *Console) outageLine(path, what string, err error) (string, bool) {
	o, down := outage.Dependency(err)
	if !down {
		return "", false
	}
	c.o.Logger.Error("console: "+o.Dependency+" unavailable", "path", path, "dependency", o.Dependency, "err", err)
	return what + ": " + o.String() + ". 这是暂时的故障 (a temporary outage): try again in a few seconds.", true
}
