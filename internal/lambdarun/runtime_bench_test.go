package lambdarun

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/wsgate/wsgate/internal/config"
)

// benchFunctions are a handler that does nothing, in each runtime.
func benchFunctions(b *testing.B) map[string]config.Function {
	node := writeFiles(b, map[string]string{"index.js": `exports.handler = async (e) => e;`})
	py := writeFiles(b, map[string]string{"app.py": "def handler(e, c):\n    return e\n"})
	return map[string]config.Function{
		"node":     {Runtime: "nodejs20.x", Handler: "index.handler", CodeDir: node, MaxConcurrency: 1},
		"python":   {Runtime: "python3.11", Handler: "app.handler", CodeDir: py, MaxConcurrency: 1},
		"provided": {Runtime: "provided.al2023", CodeDir: buildGoBootstrap(b), MaxConcurrency: 1},
	}
}

// BenchmarkWarmInvoke is the cost of an invocation of a warm process whose handler
// returns at once: wsgate's overhead (Runtime API round trip, the bootstrap's loop)
// over the handler's own time. Reports p50/p99 in µs.
func BenchmarkWarmInvoke(b *testing.B) {
	r := newRuntime(b, benchFunctions(b))
	for _, fn := range []string{"provided", "node", "python"} {
		b.Run(fn, func(b *testing.B) {
			in := &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"action":"send","data":"hello"}`)}
			if _, err := r.Invoke(context.Background(), in); err != nil { // warm up
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				out, err := r.Invoke(context.Background(), in)
				lat = append(lat, time.Since(start))
				if err != nil || out.FunctionError != nil {
					b.Fatal(err, out)
				}
			}
			reportPercentiles(b, lat)
		})
	}
}

// BenchmarkColdStart is a first invocation: process start, the bootstrap's init, the
// handler's load, one invocation.
func BenchmarkColdStart(b *testing.B) {
	r := newRuntime(b, benchFunctions(b))
	for _, fn := range []string{"provided", "node", "python"} {
		b.Run(fn, func(b *testing.B) {
			in := &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{}`)}
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				_ = r.Reload(fn)
				start := time.Now()
				if _, err := r.Invoke(context.Background(), in); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			reportPercentiles(b, lat)
		})
	}
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
