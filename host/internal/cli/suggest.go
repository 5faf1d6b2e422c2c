package cli

import "strings"

// didYouMean is " — did you mean `medgate <best>`?" for the candidate
// closest to typed (a transposition, a letter missing, extra or wrong
// counts one), or "" when none is close: at most 2 edits, and fewer than
// half the letters typed.
func didYouMean(typed string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(typed, c); d < bestD && 2*d < len([]rune(typed)) {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return "; did you mean `medgate " + best + "`?"
}

// editDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and transpositions of neighbours,
// each one edit, case ignored.
func editDistance(a, b string) int {
	ra, rb := []rune(strings.ToLower(a)), []rune(strings.ToLower(b))
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// unknownCommandHint suggests, for a command line whose first words are
// no built-in command and no plugin of the configuration, the built-in
// command or plugin (plugins: nil when the configuration cannot be read)
// it is closest to: its first two words among the commands of two words
// ("job run", "transform test"), else its first word.
func unknownCommandHint(args []string, plugins []string) string {
	if len(args) >= 2 && !strings.HasPrefix(args[1], "-") {
		if h := didYouMean(args[0]+" "+args[1], builtinNames(2)); h != "" {
			return h
		}
	}
	return didYouMean(args[0], append(builtinNames(1), plugins...))
}

// builtinNames are the names of the built-in commands of n words.
func builtinNames(n int) []string {
	var names []string
	for _, c := range commands {
		if len(strings.Fields(c.name)) == n {
			names = append(names, c.name)
		}
	}
	return names
}
