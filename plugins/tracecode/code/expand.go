package code

import (
	"fmt"
	"sort"
)

// Node is one code of a packaging hierarchy as a platform returns it: the
// code, its parent (empty for a top code) and its level. Either level may
// be 0 when the platform does not give it.
type Node struct {
	Code   string
	Parent string
	// DisplayLevel: 1 = the largest package (码上放心 code_level).
	DisplayLevel int
	// PackLevel: 1 = the smallest package (码上放心 code_pack_level).
	PackLevel int
	// Smallest is true for a smallest sales unit (is_smallest).
	Smallest bool
	// Ratio is the package ratio text, e.g. "1:5:50".
	Ratio string
	// BoxStatus is the platform's box status: "0" normal, "1" mixed case
	// (拼箱), "2" partial case (零箱), "3" both.
	BoxStatus string
}

// Count is the result of expanding one top code to its smallest units.
type Count struct {
	Code string `json:"code"`
	// Level is the display level (1 = largest), 0 if unknown.
	Level     int    `json:"level"`
	PackRatio string `json:"packRatio,omitempty"`
	// Expected is the number of smallest units the package ratio says the
	// package holds; 0 when it cannot be known (no or malformed ratio).
	Expected int `json:"expected"`
	// Smallest is the number of smallest units found under the code.
	Smallest  int    `json:"smallest"`
	BoxStatus string `json:"boxStatus,omitempty"`
	// Problem says what does not add up, empty when the count matches.
	Problem string `json:"problem,omitempty"`
}

// Expansion is a hierarchy resolved to its smallest codes.
type Expansion struct {
	// Tops are the top codes (those whose parent is not in the list), in
	// the order first seen.
	Tops []Count
	// Smallest are the smallest codes under the tops, each once, in order.
	Smallest []string
	// Mismatches are the tops whose smallest count differs from the
	// package ratio, or whose structure is broken.
	Mismatches []Count
}

// boxStatusNames are the 码上放心 box_status values.
var boxStatusNames = map[string]string{"0": "正常 (normal)", "1": "拼箱 (mixed case)", "2": "零箱 (partial case)", "3": "拼箱+零箱 (mixed and partial)"}

// BoxStatusName returns a readable name of a box status code.
func BoxStatusName(s string) string {
	if n, ok := boxStatusNames[s]; ok {
		return n
	}
	return s
}

// Expand resolves a flat list of hierarchy nodes to the smallest codes
// under each top code and checks each top's count against its package
// ratio, read in mode. A node counts as smallest when it says so, when its
// pack level is 1, or when it has no children and its level does not say
// it is a larger package. Cycles and codes listed twice are reported as
// problems, never followed twice.
func Expand(nodes []Node, mode RatioMode) Expansion {
	byCode := make(map[string]*Node, len(nodes))
	children := map[string][]string{}
	var order []string
	var dupes []string
	for i := range nodes {
		n := &nodes[i]
		if _, dup := byCode[n.Code]; dup {
			dupes = append(dupes, n.Code)
			continue
		}
		byCode[n.Code] = n
		order = append(order, n.Code)
	}
	for _, c := range order {
		n := byCode[c]
		if n.Parent != "" && n.Parent != n.Code {
			children[n.Parent] = append(children[n.Parent], c)
		}
	}
	var ex Expansion
	seenSmallest := map[string]bool{}
	reached := map[string]bool{}
	for _, c := range order {
		n := byCode[c]
		// A code answered as its own parent is a top code (as it is no
		// child of itself above).
		if n.Parent != "" && n.Parent != c {
			if _, inList := byCode[n.Parent]; inList {
				continue
			}
		}
		cnt := Count{Code: c, Level: n.DisplayLevel, PackRatio: n.Ratio, BoxStatus: n.BoxStatus}
		visited := map[string]bool{}
		var cycle bool
		stack := []string{c}
		for len(stack) > 0 {
			code := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if visited[code] {
				cycle = true
				continue
			}
			visited[code] = true
			reached[code] = true
			node := byCode[code]
			kids := children[code]
			if node.Smallest || node.PackLevel == 1 || len(kids) == 0 && leafIsSmallest(node, n.Ratio, mode) {
				cnt.Smallest++
				if !seenSmallest[code] {
					seenSmallest[code] = true
					ex.Smallest = append(ex.Smallest, code)
				}
				continue
			}
			for i := len(kids) - 1; i >= 0; i-- {
				stack = append(stack, kids[i])
			}
		}
		checkCount(&cnt, n, mode)
		if cnt.Smallest == 0 && cnt.Problem == "" {
			cnt.Problem = "the platform listed no smallest unit under this code"
		}
		if cycle {
			cnt.Problem = joinProblem(cnt.Problem, "the hierarchy under this code loops back on itself; the platform data is inconsistent")
		}
		ex.Tops = append(ex.Tops, cnt)
		if cnt.Problem != "" {
			ex.Mismatches = append(ex.Mismatches, cnt)
		}
	}
	if len(reached) < len(order) {
		var lost []string
		for _, c := range order {
			if !reached[c] {
				lost = append(lost, c)
			}
		}
		ex.Mismatches = append(ex.Mismatches, Count{Code: lost[0], Problem: fmt.Sprintf("%d code(s) are not under any top code (their parents form a loop, first: %s); the platform data is inconsistent", len(lost), lost[0])})
	}
	if len(dupes) > 0 {
		sort.Strings(dupes)
		ex.Mismatches = append(ex.Mismatches, Count{Code: dupes[0], Problem: fmt.Sprintf("%d code(s) are listed more than once (first: %s); each was counted once", len(dupes), dupes[0])})
	}
	return ex
}

// leafIsSmallest reports whether a node listed without children is a
// smallest unit: unless its own level says it is a larger package (pack
// level above 1, or a display level above the smallest of its ratio, or
// of its top code's ratio topRatio), whose contents the answer then
// lacks.
func leafIsSmallest(n *Node, topRatio string, mode RatioMode) bool {
	if n.PackLevel > 1 {
		return false
	}
	ratio := n.Ratio
	if ratio == "" {
		ratio = topRatio
	}
	if n.PackLevel == 0 && n.DisplayLevel > 0 && ratio != "" {
		if r, err := ParseRatio(ratio, mode); err == nil && n.DisplayLevel < r.Levels() {
			return false
		}
	}
	return true
}

// checkCount fills Expected and Problem of one top code.
func checkCount(cnt *Count, n *Node, mode RatioMode) {
	if n.Ratio == "" {
		if !n.Smallest && n.PackLevel != 1 && cnt.Smallest > 0 && (n.DisplayLevel > 0 || n.PackLevel > 0) {
			cnt.Problem = "the platform gave no package ratio, so the count cannot be checked"
		}
		return
	}
	r, err := ParseRatio(n.Ratio, mode)
	if err != nil {
		cnt.Problem = err.Error()
		return
	}
	level := n.DisplayLevel
	if level == 0 && n.PackLevel > 0 {
		level = r.DisplayLevel(n.PackLevel)
		cnt.Level = level
	}
	if level == 0 {
		if n.Smallest {
			level = r.Levels()
			cnt.Level = level
		} else {
			cnt.Problem = "the platform gave no level for this code, so the count cannot be checked"
			return
		}
	}
	want, err := r.SmallestPer(level)
	if err != nil {
		cnt.Problem = err.Error()
		return
	}
	cnt.Expected = want
	if cnt.Smallest != want {
		p := fmt.Sprintf("found %d smallest unit(s), the package ratio %s says a level-%d package holds %d", cnt.Smallest, r, level, want)
		if n.BoxStatus != "" && n.BoxStatus != "0" {
			p += "; the platform marks the box " + BoxStatusName(n.BoxStatus)
		}
		cnt.Problem = p
	}
}

func joinProblem(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
