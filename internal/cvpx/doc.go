// Package cvpx binds libvpx's VP8 encoder and decoder (cgo, pkg-config vpx, from Debian's
// libvpx-dev) for the relay's video regions and the Go client: RGBA in, VP8 frames with
// temporal layers out, and back. Colours are BT.601, limited range, as browsers assume for VP8.
package cvpx
