package selfpay

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/medgate/medgate/plugins/hsa"
)

// institution returns a fixture calling the same simulator as another
// institution, fixmedinsCode other.
func (f *fixture) institution(t *testing.T, other string) *fixture {
	t.Helper()
	cfg := hsa.Defaults()
	cfg.BaseURL, cfg.FixmedinsCode, cfg.FixmedinsName, cfg.MdtrtareaAdmvs = f.url+"/", other, "另一医院", "350200"
	cfg.RecerSysCode, cfg.Opter, cfg.OpterName, cfg.PaasID, cfg.Token = "CSTEST", "OP1", "接口", paas, token
	c, err := hsa.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{sim: f.sim, url: f.url, client: c, h: &host{}}
}

// TestQueriesAnswerTheVisitAsked: 4207 and 4209 name one visit by
// fixmedins_mdtrt_id and fixmedins_code, and a visit id (and a bkkp_sn,
// unique only within its visit) is unique only within its institution.
// The simulator answered them for the envelope's institution whatever
// the input named, so a 4207 asking about another institution's visit
// was answered with records whose fixmedinsCode was not the one asked
// about; it refuses that input now, as it does for 4201A … 4204. Asked
// right, each institution sees its own visit's lines alone.
func TestQueriesAnswerTheVisitAsked(t *testing.T) {
	t.Parallel()
	const other = "H35020399999"
	a := newFixture(t, Options{}, nil)
	b := a.institution(t, other)
	// The same visit id and bkkp_sn at both institutions, other amounts.
	if _, err := a.do("4201A", fees(feeRow("V", 1, "2"))); err != nil {
		t.Fatal(err)
	}
	row := feeRow("V", 1, "7")
	row["fixmedins_code"] = other
	if _, err := b.do("4201A", fees(row)); err != nil {
		t.Fatal(err)
	}
	for _, infno := range []string{"4207", "4209"} {
		_, err := a.do(infno, map[string]any{"fixmedins_mdtrt_id": "V", "fixmedins_code": other, "page_num": 1, "page_size": 10})
		refused(t, err, "与报文头不符")
	}
	for name, tc := range map[string]struct {
		f         *fixture
		code, amt string
	}{"first institution": {a, code, "2"}, "second institution": {b, other, "7"}} {
		res, err := tc.f.do("4207", map[string]any{"fixmedins_mdtrt_id": "V", "fixmedins_code": tc.code, "page_num": 1, "page_size": 10})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pg, err := hsa.ParsePage(res.Output, hsa.Defaults().Paging)
		if err != nil || len(pg.Records) != 1 {
			t.Fatalf("%s: 4207 %s: %v", name, res.Output, err)
		}
		var rec map[string]any
		_ = json.Unmarshal(pg.Records[0], &rec)
		if rec["fixmedinsCode"] != tc.code || rec["fixmedinsMdtrtId"] != "V" || rec["detItemFeeSumamt"] != tc.amt {
			t.Errorf("%s: 4207 record %v, want visit V of %s (amount %s)", name, rec, tc.code, tc.amt)
		}
	}
}

// TestQuery4208AllInstitutions: with AllInstitutions4208 a 4208 search
// lists the person's visits at every institution, each under its own
// fixmedinsCode (the same visit id at two institutions is two visits);
// without it, the caller's own alone.
func TestQuery4208AllInstitutions(t *testing.T) {
	t.Parallel()
	const other = "H35020300000"
	for name, tc := range map[string]struct {
		all  bool
		want []string // fixmedinsCode of the records, in order
	}{"caller's institution": {false, []string{code}}, "every institution": {true, []string{other, code}}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := newFixture(t, Options{AllInstitutions4208: tc.all}, nil)
			b := a.institution(t, other)
			if _, err := a.do("4202", visitIn("V", "2")); err != nil {
				t.Fatal(err)
			}
			in := visitIn("V", "7")
			in["ownPayPatnMdtrtD"].(map[string]any)["fixmedins_code"] = other
			if _, err := b.do("4202", in); err != nil {
				t.Fatal(err)
			}
			res, err := a.do("4208", map[string]any{"certno": "350203198001011234", "page_num": 1, "page_size": 10})
			if err != nil {
				t.Fatal(err)
			}
			pg, err := hsa.ParsePage(res.Output, hsa.Defaults().Paging)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, raw := range pg.Records {
				var rec map[string]any
				_ = json.Unmarshal(raw, &rec)
				got = append(got, fmt.Sprint(rec["fixmedinsCode"]))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("4208 lists the visits of %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRefuseReopenIncomplete: with RefuseReopenIncomplete a 4203
// cplt_flag=0 of a visit that is not complete is refused, and of a
// complete one applied; without it both are applied.
func TestRefuseReopenIncomplete(t *testing.T) {
	t.Parallel()
	for name, refuse := range map[string]bool{"refused": true, "accepted": false} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Options{RefuseReopenIncomplete: refuse}, nil)
			for _, c := range []struct {
				infno string
				in    any
			}{{"4201A", fees(feeRow("R", 1, "2"))}, {"4202", visitIn("R", "2")}} {
				if _, err := f.do(c.infno, c.in); err != nil {
					t.Fatal(err)
				}
			}
			_, err := f.do("4203", complete("R", "0"))
			if refuse {
				refused(t, err, "未完成状态")
			} else if err != nil {
				t.Fatalf("4203 cplt_flag=0 of an open visit: %v", err)
			}
			if _, err := f.do("4203", complete("R", "1")); err != nil {
				t.Fatal(err)
			}
			if _, err := f.do("4203", complete("R", "0")); err != nil {
				t.Fatalf("4203 cplt_flag=0 of a complete visit: %v", err)
			}
			if f.sim.Visit(code, "R").Complete {
				t.Error("the visit is still complete")
			}
		})
	}
}
