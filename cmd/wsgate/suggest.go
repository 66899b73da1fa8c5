package main

// suggest returns the candidates closest to word (at most two edits, or a third of its
// length for long words), closest first, for "did you mean" hints. The edit distance is
// written here rather than imported: it is a dozen lines, and none of the Go modules
// known to be served offers it without pulling in a fuzzy-search library.
func suggest(word string, candidates []string) []string {
	limit := max(2, len(word)/3)
	best := limit + 1
	var out []string
	for _, c := range candidates {
		d := levenshtein(word, c)
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

// levenshtein is the edit distance between a and b (insertions, deletions,
// substitutions of bytes), with one row of memory.
func levenshtein(a, b string) int {
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		prev := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			cur := row[j]
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			row[j] = min(row[j]+1, row[j-1]+1, prev+cost)
			prev = cur
		}
	}
	return row[len(b)]
}
