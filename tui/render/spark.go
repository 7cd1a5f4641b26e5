package render

// Sparkline draws counts as block characters, one per value.
func Sparkline(values []int) string {
	blocks := []rune(" ▁▂▃▄▅▆▇█")
	max := 0
	for _, v := range values {
		if v > max {
			max = v
		}
	}
	out := make([]rune, len(values))
	for i, v := range values {
		if max == 0 || v == 0 {
			out[i] = blocks[0]
			if v > 0 {
				out[i] = blocks[1]
			}
			continue
		}
		idx := 1 + v*(len(blocks)-2)/max
		out[i] = blocks[idx]
	}
	return string(out)
}

// Resample sums adjacent values so that at most n remain, for a sparkline
// that must fit a width (a year of days in 60 columns).
func Resample(values []int, n int) []int {
	if n <= 0 || len(values) <= n {
		return values
	}
	out := make([]int, n)
	for i, v := range values {
		out[i*n/len(values)] += v
	}
	return out
}
