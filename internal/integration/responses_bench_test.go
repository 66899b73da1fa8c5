package integration

import (
	"context"
	"testing"

	"github.com/wsgate/wsgate/internal/config"
)

// BenchmarkMockIntegrationResponses measures what integration responses add to an
// invocation: a MOCK answering 200 with and without three integration responses whose
// selected template renders the body with $input.json.
func BenchmarkMockIntegrationResponses(b *testing.B) {
	for _, bc := range []struct {
		name string
		irs  map[string]config.IntegrationResponse
	}{
		{"none", nil},
		{"three", integrationResponses},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in, err := New(config.Integration{IntegrationType: config.IntegrationMock, ResponseTemplate: `{"id":"m","n":[1,2,3]}`,
				IntegrationResponses: bc.irs}, Deps{})
			if err != nil {
				b.Fatal(err)
			}
			req := messageRequest(`{"format":"long"}`)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := in.Invoke(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
