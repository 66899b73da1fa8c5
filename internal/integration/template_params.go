package integration

// $input.params: the handshake's parameters, as API Gateway's WebSocket templates see
// them (on $connect; empty on the other routes).

// inputParams is $input.params() — a map with the keys "header", "querystring" and
// "path", each a map from a parameter's name (as sent) to its last value; a WebSocket
// route has no path parameters, so "path" is empty — or $input.params(name): the value
// of the parameter name, searched in the path, then the query string (the name as
// written), then the headers (the name in any letter case), or null.
func (r *renderer) inputParams(seg *segment, args []any) (any, error) {
	if len(args) == 0 {
		if r.params == nil {
			n := 0
			header := make(map[string]any, len(r.d.Headers))
			for k, vs := range r.d.Headers {
				if v, ok := lastValue(vs); ok {
					header[k] = v
					n += len(k) + len(v)
				}
			}
			query := make(map[string]any, len(r.d.Query))
			for k, vs := range r.d.Query {
				if v, ok := lastValue(vs); ok {
					query[k] = v
					n += len(k) + len(v)
				}
			}
			if err := r.spend(seg.at, n); err != nil {
				return nil, err
			}
			r.params = map[string]any{"header": header, "querystring": query, "path": map[string]any{}}
		}
		return r.params, nil
	}
	name, err := r.argString(seg, args[0])
	if err != nil {
		return nil, err
	}
	if v, ok := lastValue(r.d.Query[name]); ok {
		return v, nil
	}
	// A header search compares name with every header's: it costs their bytes.
	if r.headerBytes < 0 {
		r.headerBytes = 0
		for k := range r.d.Headers {
			r.headerBytes += len(k) + 1
		}
	}
	if err := r.spend(seg.at, r.headerBytes); err != nil {
		return nil, err
	}
	if v, ok := lastValue(headerValues(r.d.Headers, name)); ok {
		return v, nil
	}
	return nil, nil
}
