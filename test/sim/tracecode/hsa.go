package tracecode

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/medgate/medgate/test/sim/simspec"
)

// HSARecord is one 3502 record the simulated medical-insurance platform
// accepted.
type HSARecord struct {
	MsgID       string
	Bchno       string
	MedListCodg string
	Cnt         string
	TraceCodes  []string
	InvChgType  string
	FixmedinsID string
	// OpterName is the stock change's operator (inv_chg_opter_name).
	OpterName    string
	ReceivedAtMS int64
}

// hsaAnswer is the national response envelope.
type hsaAnswer struct {
	Infcode     int    `json:"infcode"`
	InfRefmsgid string `json:"inf_refmsgid"`
	RefmsgTime  string `json:"refmsg_time"`
	RespondTime string `json:"respond_time"`
	ErrMsg      string `json:"err_msg"`
	Output      any    `json:"output"`
}

// FailHSA makes the next times calls of the medical-insurance endpoint
// fail: "business" (infcode -1), "http500", or "lost-reply" (the record is
// accepted, then the connection is closed without an answer).
func (s *Sim) FailHSA(kind string, times int) { s.Fail("hsa", kind, times) }

// HSARecords returns the accepted 3502 records by fixmedins_bchno.
func (s *Sim) HSARecords() map[string]HSARecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]HSARecord, len(s.hsaRecords))
	for k, v := range s.hsaRecords {
		out[k] = v
	}
	return out
}

// RequireHSASignIn turns the 9001 sign-in on: from now on every call but
// 9001 must carry in its envelope's sign_no a sign_no that 9001 issued and
// that has not expired (ExpireHSASignIns); any other call is refused with
// infcode expiredInfcode (the province's "sign-in expired" answer, which a
// site lists in signInExpiredCodes) and not run. 9001 issues a new sign_no
// (output signinoutb {sign_time, sign_no}) whether or not this is on.
func (s *Sim) RequireHSASignIn(expiredInfcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hsaSignInRequired, s.hsaSignInExpired = true, expiredInfcode
}

// ExpireHSASignIns makes every sign_no issued so far expire: calls that
// carry one are refused (see RequireHSASignIn) until the caller signs in
// again.
func (s *Sim) ExpireHSASignIns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.hsaSignNos)
}

// HSASignIns returns the number of 9001 sign-ins answered.
func (s *Sim) HSASignIns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hsaSignInCount
}

// hsaCall serves POST /hsa/api: the national interface's 3502 (商品库存变更)
// with drugtracinfo and 9001 (签到), behind the x-tif gateway. It is the
// small part of the national platform the trace-code plugin needs; the
// self-pay simulator (test/sim/selfpay) plays the rest. Failures armed with
// FailHSA apply to the 3502 calls past the sign-in check only, so a test
// can make the call sent again after a new sign-in fail.
func (s *Sim) hsaCall(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Now()
	if s.opts.HSAToken != "" {
		// The gateway's rule, computed here and not by the plugin's code:
		// lower-case hex SHA-256 of timestamp + token + nonce + timestamp.
		ts := r.Header.Get("x-tif-timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		sum := sha256.Sum256([]byte(ts + s.opts.HSAToken + r.Header.Get("x-tif-nonce") + ts))
		want := hex.EncodeToString(sum[:])
		if r.Header.Get("x-tif-paasid") != s.opts.HSAPaasID || err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute ||
			subtle.ConstantTimeCompare([]byte(want), []byte(r.Header.Get("x-tif-signature"))) != 1 {
			http.Error(w, `{"code":401,"message":"x-tif signature check failed (simulated gateway)"}`, http.StatusUnauthorized)
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	var env struct {
		Infno  string          `json:"infno"`
		MsgID  string          `json:"msgid"`
		SignNo string          `json:"sign_no"`
		Input  json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		s.hsaAnswer(w, now, -1, "报文格式错误: "+err.Error())
		return
	}
	if env.Infno == "9001" {
		s.hsaSignIn(w, now, env.Input)
		return
	}
	s.mu.Lock()
	if s.hsaSignInRequired && (env.SignNo == "" || !s.hsaSignNos[env.SignNo]) {
		code := s.hsaSignInExpired
		s.stats.Calls["hsa-refused-signin"]++
		s.mu.Unlock()
		s.hsaAnswer(w, now, code, "签到已失效，请重新签到 (simulated): sign_no "+strconv.Quote(env.SignNo))
		return
	}
	s.stats.Calls["hsa"]++
	kind := s.takeFailure("hsa")
	s.mu.Unlock()
	switch kind {
	case FailHTTP500:
		http.Error(w, "internal error (simulated)", http.StatusInternalServerError)
		return
	case "business":
		s.hsaAnswer(w, now, -1, "业务处理失败 (simulated)")
		return
	}
	if env.Infno != "3502" {
		s.hsaAnswer(w, now, -1, "交易编号不存在或未实现: "+env.Infno)
		return
	}
	var in map[string]any
	if err := json.Unmarshal(env.Input, &in); err != nil {
		s.hsaAnswer(w, now, -1, "input不是JSON对象")
		return
	}
	sc, err := s.hsaTx("tracecode", "3502")
	if err != nil {
		s.hsaAnswer(w, now, -1, err.Error())
		return
	}
	if errs := sc.CheckInput(in); errs != nil {
		s.hsaAnswer(w, now, -1, "入参校验失败: "+errs[0].Error())
		return
	}
	var typed struct {
		Invinfo struct {
			MedListCodg string      `json:"med_list_codg"`
			InvChgType  string      `json:"inv_chg_type"`
			FixmedinsID string      `json:"fixmedins_hilist_id"`
			OpterName   string      `json:"inv_chg_opter_name"`
			Bchno       string      `json:"fixmedins_bchno"`
			Cnt         json.Number `json:"cnt"`
			Trace       []struct {
				Code string `json:"drug_trac_codg"`
			} `json:"drugtracinfo"`
		} `json:"invinfo"`
	}
	_ = json.Unmarshal(env.Input, &typed)
	rec := HSARecord{MsgID: env.MsgID, Bchno: typed.Invinfo.Bchno, MedListCodg: typed.Invinfo.MedListCodg, Cnt: typed.Invinfo.Cnt.String(),
		InvChgType: typed.Invinfo.InvChgType, FixmedinsID: typed.Invinfo.FixmedinsID, OpterName: typed.Invinfo.OpterName, ReceivedAtMS: now.UnixMilli()}
	for _, t := range typed.Invinfo.Trace {
		if !validCode(t.Code) {
			s.hsaAnswer(w, now, -1, "药品追溯码格式错误: "+t.Code)
			return
		}
		rec.TraceCodes = append(rec.TraceCodes, t.Code)
	}
	s.mu.Lock()
	for _, c := range rec.TraceCodes {
		// One smallest-unit code is settled once ("依码结算"): a code
		// dispensed to a patient (Dispense) is out of every stock.
		if d, ok := s.dispensed[c]; ok {
			s.mu.Unlock()
			s.hsaAnswer(w, now, -1, fmt.Sprintf("医保目录编码%s的药品追溯码%s已于%s在参保人%s(%s%s，联系电话%s)的结算中使用，不能再做库存变更",
				rec.MedListCodg, c, d.at.In(s.opts.Zone).Format("2006-01-02"), d.Name, d.idLabel(), d.IDNo, d.Tel))
			return
		}
	}
	switch {
	case s.hsaMsgIDs[env.MsgID]:
		s.mu.Unlock()
		s.hsaAnswer(w, now, -1, "报文ID重复: "+env.MsgID)
		return
	case s.hsaRecords[rec.Bchno].Bchno != "":
		s.mu.Unlock()
		s.hsaAnswer(w, now, -1, "机构批次流水号重复: "+rec.Bchno)
		return
	}
	s.hsaMsgIDs[env.MsgID] = true
	s.hsaRecords[rec.Bchno] = rec
	s.mu.Unlock()
	if kind == "lost-reply" {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
	}
	s.hsaAnswer(w, now, 0, "")
}

// hsaSignIn answers 9001: the input must hold signIn {opter_no, mac, ip}
// (schema hsa/9001); the answer's signinoutb.sign_no is a new sign_no,
// valid until ExpireHSASignIns.
func (s *Sim) hsaSignIn(w http.ResponseWriter, now time.Time, raw json.RawMessage) {
	var in map[string]any
	if err := json.Unmarshal(raw, &in); err != nil {
		s.hsaAnswer(w, now, -1, "input不是JSON对象")
		return
	}
	sc, err := s.hsaTx("hsa", "9001")
	if err != nil {
		s.hsaAnswer(w, now, -1, err.Error())
		return
	}
	if errs := sc.CheckInput(in); errs != nil {
		s.hsaAnswer(w, now, -1, "入参校验失败: "+errs[0].Error())
		return
	}
	t := now.In(s.opts.Zone)
	s.mu.Lock()
	s.stats.Calls["hsa9001"]++
	s.hsaSignInCount++
	signNo := fmt.Sprintf("350200%s%010d", t.Format("20060102150405"), s.hsaSignInCount)
	s.hsaSignNos[signNo] = true
	s.mu.Unlock()
	s.hsaOutput(w, now, 0, "", map[string]any{"signinoutb": map[string]any{"sign_time": t.Format("2006-01-02 15:04:05"), "sign_no": signNo}})
}

func (s *Sim) hsaAnswer(w http.ResponseWriter, now time.Time, infcode int, msg string) {
	s.hsaOutput(w, now, infcode, msg, map[string]any{})
}

func (s *Sim) hsaOutput(w http.ResponseWriter, now time.Time, infcode int, msg string, output any) {
	s.mu.Lock()
	s.hsaSeq++
	seq := s.hsaSeq
	s.mu.Unlock()
	t := now.In(s.opts.Zone)
	writeJSON(w, 200, hsaAnswer{Infcode: infcode, InfRefmsgid: fmt.Sprintf("350200%s%010d", t.Format("20060102150405"), seq),
		RefmsgTime: t.Format("20060102150405000"), RespondTime: t.Format("20060102150405000"), ErrMsg: msg, Output: output})
}

// loadHSASpec reads the field lists of 3502 and 9001 from fsys (nil: the
// source tree's schemas/).
func loadHSASpec(fsys fs.FS) (*simspec.Spec, error) {
	if fsys == nil {
		var err error
		if fsys, err = simspec.RepoFiles(); err != nil {
			return nil, fmt.Errorf("tracecode simulator: %w", err)
		}
	}
	spec, err := simspec.Load(fsys, "tracecode", "hsa")
	if err != nil {
		return nil, fmt.Errorf("tracecode simulator: Options.Spec: %w", err)
	}
	return spec, nil
}

// hsaTx returns the field list of one medical-insurance transaction, or
// why the simulator has none.
func (s *Sim) hsaTx(system, code string) (*simspec.Tx, error) {
	if s.hsaSpecErr != nil {
		return nil, s.hsaSpecErr
	}
	tx, ok := s.hsaSpec.Tx(system, code)
	if !ok {
		return nil, fmt.Errorf("tracecode simulator: Options.Spec has no %s/%s.yaml; give it the files of schemas/", system, code)
	}
	return tx, nil
}
