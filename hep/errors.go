package hep

import "errors"

// Decoding errors. Each is returned as is (never wrapped) so that the
// decoder does not allocate; test them with errors.Is.
var (
	ErrTooShort       = errors.New("hep: packet too short")                         // fewer bytes than the smallest header
	ErrBadMagic       = errors.New("hep: not a HEP packet")                         // neither HEP3/EEP1 nor legacy version 1/2
	ErrLength         = errors.New("hep: bad total length")                         // total length < 6 or > bytes received
	ErrChunkHeader    = errors.New("hep: truncated chunk header")                   // < 6 bytes left for a chunk header
	ErrChunkLength    = errors.New("hep: chunk length below 6")                     // chunk could never advance the parser
	ErrChunkOverrun   = errors.New("hep: chunk runs past the packet end")           // chunk length > bytes left
	ErrChunkSize      = errors.New("hep: fixed-size chunk has the wrong body size") // vendor 0 only
	ErrChunkTypeZero  = errors.New("hep: chunk type 0")                             // vendor 0, type 0
	ErrNoPayload      = errors.New("hep: no payload")                               // no 0x000f/0x0010 chunk, or an empty one
	ErrKeepAlive      = errors.New("hep: keep-alive packet")                        // 0x000d and no payload: drop silently
	ErrNoProtoType    = errors.New("hep: no payload protocol type")                 // chunk 0x000b missing
	ErrLegacyHeader   = errors.New("hep: bad HEPv1/v2 header")                      // header length or address family invalid
	ErrInflate        = errors.New("hep: cannot inflate compressed payload")
	ErrInflateTooLong = errors.New("hep: inflated payload exceeds the limit")
)
