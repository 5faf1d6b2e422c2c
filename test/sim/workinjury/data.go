package workinjury

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

// application is a filing application from the national public-service
// platform, handed out with GYD001.
type application struct {
	rec       map[string]any
	delivered bool
	audited   bool
}

// Attachment is a file held by the national system (GYD054).
type Attachment struct {
	ID      string
	Type    string // attachmentType code, e.g. "01" 工伤认定决定书
	Name    string
	Format  string // pdf | jpg | png
	Content []byte
	bizType string
	bizNo   string
	// revokedBy is the revocation (GYR003 of the settlement it served)
	// that revoked it; a revoked attachment cannot serve again.
	revokedBy string
}

type attachment = Attachment

// filing is a filing record, kept in the GYD006 record layout.
type filing struct {
	rec map[string]any
}

func (f *filing) get(k string) string { s, _ := f.rec[k].(string); return s }

func (f *filing) valid(day string) bool {
	st := f.get("filing_status")
	if st != "1" && st != "3" {
		return false
	}
	end := f.get("aae031")
	return end == "" || end >= day
}

// Card is a social-security card known to the national system.
type Card struct {
	AAZ500 string // card number
	CardID string // card identification code
	AAB301 string // issuing region
	AAC002 string // social-security number
	AAC003 string // name
	AAC004 string // gender code
	AAC006 string // birth date YYYY-MM-DD
	Status string // cardStatus code; "1" normal
	Secret []byte // the card's internal-authentication key
}

type qrCode struct {
	aaz500  string
	essc    string
	expires time.Time
}

// AddApplication adds a filing application (a GYD001 record; apply_no
// required) with its attachments and queues it for GYD001.
func (s *Server) AddApplication(rec map[string]any, atts ...Attachment) {
	rec = maps.Clone(rec)
	var refs []any
	for _, a := range atts {
		refs = append(refs, map[string]any{"attachment_id": a.ID, "attachment_type": a.Type, "file_name": a.Name})
	}
	if len(refs) > 0 {
		rec["attachments"] = refs
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range atts {
		a.bizType, a.bizNo = "1", str(rec, "apply_no")
		s.attachments[a.ID] = &a
	}
	no := str(rec, "apply_no")
	s.apps[no] = &application{rec: rec}
	s.queues["GYD001"].touch(no)
}

// AddFiling adds a filing (a GYD006 record; filing_no required). Filings
// whose 就医地 aab299 is in the simulator's province are queued for GYD006.
func (s *Server) AddFiling(rec map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putFiling(&filing{rec: maps.Clone(rec)})
}

// putFiling stores a filing and queues it for GYD006; s.mu is held.
func (s *Server) putFiling(f *filing) {
	no := f.get("filing_no")
	s.filings[no] = f
	if s.inProvince(f.get("aab299")) {
		s.queues["GYD006"].touch(no)
	}
}

// AddInstitution adds or updates an institution (a GYD009 record; akb020
// required) and queues it for GYD009.
func (s *Server) AddInstitution(rec map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.insts[str(rec, "akb020")] = maps.Clone(rec)
	s.queues["GYD009"].touch(str(rec, "akb020"))
}

// AddCard adds a social-security card.
func (s *Server) AddCard(c Card) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cards[c.AAZ500] = &c
}

// AddQRCode adds an electronic social-security-card QR code for a card.
func (s *Server) AddQRCode(code, aaz500, esscNo string, expires time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.qrs[code] = &qrCode{aaz500: aaz500, essc: esscNo, expires: expires}
}

// FilingStatus returns the status code of a filing.
func (s *Server) FilingStatus(no string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.filings[no]
	if !ok {
		return "", false
	}
	return f.get("filing_status"), true
}

// inProvince reports whether a region code is in the simulator's province.
func (s *Server) inProvince(region string) bool {
	return len(region) >= 2 && region[:2] == s.cfg.Region[:2]
}

// InternalAuthData is the answer a card gives to the internal
// authentication challenge random (GYD055 internal_auth_data).
func InternalAuthData(secret []byte, random string) string {
	return authData(secret, "I"+random)
}

// ExternalAuthData is what GYD055 returns for the challenge random.
func ExternalAuthData(secret []byte, random string) string {
	return authData(secret, "E"+random)
}

func authData(secret []byte, msg string) string {
	h := sm3.New()
	h.Write(secret)
	h.Write([]byte(msg))
	return strings.ToUpper(fmt.Sprintf("%x", h.Sum(nil)[:16]))
}

// SampleApplication returns a valid GYD001 record number i of a series
// named by prefix (letters and digits, at most 8), insured in 440300
// (Shenzhen) and treated in region.
func SampleApplication(prefix string, i int, region string) map[string]any {
	id := fmt.Sprintf("44030119850715%03d%d", i%1000, i%10)
	return map[string]any{
		"apply_no": fmt.Sprintf("SQ%s%08d", prefix, i), "aac002": id, "aac003": fmt.Sprintf("测试申请人%d", i),
		"aac043": "01", "aac044": id, "aac004": "1", "aac006": "1985-07-15", "aae005": "13800000000",
		"aab001": "440300100123", "aab004": "深圳市示例建筑工程有限公司", "injury_cert_no": fmt.Sprintf("深人社认字〔2025〕第%05d号", i),
		"injury_date": "2025-02-18", "aab301": "440300", "aab299": region, "filing_type": "2",
		"akb020": "H35020300123", "akb021": "厦门市第一示例医院", "aae030": "2025-04-01", "aae031": "2026-12-31",
		"apply_reason": "伤情需转往就医地继续治疗", "apply_time": "2025-03-31 16:20:00",
	}
}

// SampleAttachment returns a small PDF-like attachment.
func SampleAttachment(id string) Attachment {
	return Attachment{ID: id, Type: "01", Name: "工伤认定决定书.pdf", Format: "pdf", Content: []byte("%PDF-1.4\n% medgate simulator " + id + "\n%%EOF\n")}
}

// SampleFiling returns a valid GYD006 record number i treated in region.
func SampleFiling(prefix string, i int, region string) map[string]any {
	id := fmt.Sprintf("44030219800101%03d%d", i%1000, i%10)
	return map[string]any{
		"filing_no": fmt.Sprintf("BA%s%08d", prefix, i), "aac002": id, "aac003": fmt.Sprintf("测试备案人%d", i),
		"aac043": "01", "aac044": id, "aac004": "2", "aac006": "1980-01-01", "aae005": "13900000000",
		"injury_cert_no": fmt.Sprintf("深人社认字〔2024〕第%05d号", i), "aab301": "440300", "aab299": region,
		"filing_type": "1", "filing_status": "1", "akb020": "H35020300123", "akb021": "厦门市第一示例医院",
		"aae030": "2025-01-01", "aae031": "2026-12-31", "update_time": "2025-04-01 10:00:00",
	}
}

// SampleInstitution returns a valid GYD009 record.
func SampleInstitution(akb020, name, typ, region string) map[string]any {
	return map[string]any{
		"akb020": akb020, "akb021": name, "institution_type": typ, "institution_level": "3", "aab299": region,
		"aae030": "2024-01-01", "valid_flag": "1", "update_time": "2025-04-01 08:00:00",
	}
}

// Seed fills the simulator with demo data: three institutions, apps
// filing applications (each with one attachment), filings filings, two
// cards and one QR code ("QR-DEMO-0001", valid for a year).
func (s *Server) Seed(apps, filings int) {
	r := s.cfg.Region
	s.AddInstitution(SampleInstitution("H35020300123", "厦门市第一示例医院", "1", r))
	s.AddInstitution(SampleInstitution("K35020300456", "厦门市示例康复医院", "2", r))
	s.AddInstitution(SampleInstitution("F35020300789", "厦门市示例辅助器具配置中心", "3", r))
	for i := 1; i <= apps; i++ {
		s.AddApplication(SampleApplication("DEMO", i, r), SampleAttachment(fmt.Sprintf("FJDEMO%06d", i)))
	}
	for i := 1; i <= filings; i++ {
		s.AddFiling(SampleFiling("DEMO", i, r))
	}
	s.AddCard(DemoCard())
	s.AddQRCode("QR-DEMO-0001", DemoCard().AAZ500, "ESSC350200DEMO0001", s.cfg.Now().AddDate(1, 0, 0))
}

// DemoCard is the card Seed adds. Its holder is the person of
// SampleFiling number 1 (Seed's first filing), so that its card checks
// (GYD052, GYD055) pass their pre-check, an approved filing of the holder,
// whenever Seed adds filings.
func DemoCard() Card {
	f := SampleFiling("DEMO", 1, "350200")
	return Card{AAZ500: "A35020000001", CardID: "350200D15600000500A1B2C3D4", AAB301: "350200", AAC002: str(f, "aac002"),
		AAC003: str(f, "aac003"), AAC004: str(f, "aac004"), AAC006: str(f, "aac006"), Status: "1", Secret: []byte("demo-card-secret")}
}

func str(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}
