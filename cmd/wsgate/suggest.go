package main

// suggest returns the candidates closest to word (at most two edits, or a third of its
// length for long words), for "did you mean" hints. The edit distance is written here
// rather than imported: it is twenty lines, and no module already among wsgate's
// dependencies has one (a fuzzy-search library would be a dependency for a hint).
func suggest(word string, candidates []string) []string {
	limit := max(2, len(word)/3)
	best := limit + 1
	var out []string
	for _, c := range candidates {
		d := editDistance(word, c)
		switch {
		case d < best:
			best, out = d, []string{c}
		case d == best:
			out = append(out, c)
		}
	}
	if best > limit {
		return nil
	}
	return out
}

// editDistance is the optimal string alignment distance between a and b: insertions,
// deletions, substitutions and transpositions of adjacent bytes ("dmeo" is one edit
// from "demo", as a typist would count it).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
