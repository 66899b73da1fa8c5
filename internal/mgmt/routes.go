package mgmt

import "net/http"

// routes is the whole @connections API.
//
// Each operation is served twice: under the stage (the execute-api host, or a custom
// domain whose API mapping key is the stage) and at the root (a custom domain mapped with
// an empty key). A request under any other stage, or for any other path, gets AWS's 403
// ForbiddenException {"message":"Forbidden"}: API Gateway answers unknown stages and
// resources with 403, never 404, so that it does not reveal which exist (observed, e.g.
// aws/aws-sdk-php#1955). A known path with another method gets 403 ForbiddenException too,
// with API Gateway's "No method found matching route ..." text (observed,
// aws-samples/simple-websockets-chat-app#40); AWS never answers 405 here.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()

	mux.Handle("POST /{stage}/@connections/{id}", s.handle(s.post))
	mux.Handle("GET /{stage}/@connections/{id}", s.handle(s.get))
	mux.Handle("DELETE /{stage}/@connections/{id}", s.handle(s.delete))
	mux.Handle("/{stage}/@connections/{id}", s.handle(s.noMethod))

	mux.Handle("POST /@connections/{id}", s.handle(s.post))
	mux.Handle("GET /@connections/{id}", s.handle(s.get))
	mux.Handle("DELETE /@connections/{id}", s.handle(s.delete))
	mux.Handle("/@connections/{id}", s.handle(s.noMethod))

	// A wsgate extension (batch.go): one payload for many connections.
	batch := s.handleUpTo(batchBodyLimit(s.maxPayload), s.postMany)
	mux.Handle("POST /{stage}/@wsgate/post-to-connections", batch)
	mux.Handle("POST /@wsgate/post-to-connections", batch)

	mux.Handle("/", http.HandlerFunc(s.notFound))
	return mux
}
