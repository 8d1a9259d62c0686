// Package demo is a built-in desktop to share when no VNC server is at hand: a flat scene with
// colour bars, a clock, a bouncing box, and the participants' input drawn on it (painted
// strokes, the pointer, typed text). It satisfies the relay's Source interface.
package demo

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"peerdesk/relay/wire"
)

// Config configures a Desktop. Zero values mean the defaults.
type Config struct {
	// Width and Height are the desktop size, 32 to wire.MaxDimension (default 1280×720).
	Width, Height int
	// FPS is how many times a second Run looks for changes, 1 to 120 (default 30).
	FPS int
	// Still stops the self-animation (clock, box, busy band): the scene changes only on input,
	// so that tests can compare pixels exactly.
	Still bool
	// Busy is the percentage of the screen height, 0 to 100, covered by a band of colour
	// gradients that moves every frame: continuous, photographic (JPEG) change for benchmarks.
	Busy int
	// Grain, 0 to 64, adds film grain of that amplitude to the busy band, different every
	// frame, so that its tiles cost about what a video's do.
	Grain int
}

func (c Config) withDefaults() Config {
	if c.Width == 0 && c.Height == 0 {
		c.Width, c.Height = 1280, 720
	}
	if c.FPS == 0 {
		c.FPS = 30
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Width < minSize || c.Height < minSize || c.Width > wire.MaxDimension || c.Height > wire.MaxDimension:
		return fmt.Errorf("%w: size %dx%d outside %d..%d", ErrConfig, c.Width, c.Height, minSize, wire.MaxDimension)
	case c.FPS < 1 || c.FPS > 120:
		return fmt.Errorf("%w: %d frames per second outside 1..120", ErrConfig, c.FPS)
	case c.Busy < 0 || c.Busy > 100:
		return fmt.Errorf("%w: busy %d%% outside 0..100", ErrConfig, c.Busy)
	case c.Grain < 0 || c.Grain > maxGrain:
		return fmt.Errorf("%w: grain %d outside 0..%d", ErrConfig, c.Grain, maxGrain)
	}
	return nil
}

// Layout and colours of the scene.
const (
	minSize    = 32
	margin     = 16
	clockScale = 3
	textScale  = 2
	maxLines   = 5
	brushSize  = 5 // the side of a painted dot
	crossArm   = 5 // the pointer is a cross of 2×crossArm+1 pixels
	boxSpeedX  = 5
	boxSpeedY  = 3
	busySpeed  = 4
	maxGrain   = 64
	grainSize  = 1 << 16 // the grain table, a power of two
	maxDamage  = 64      // more pending rectangles than this merge into their union

	keyBackSpace = 0xff08
	keyReturn    = 0xff0d
	keyKPEnter   = 0xff8d
	unicodeBase  = 0x01000000 // keysyms of Unicode code points
)

var (
	background = color.RGBA{R: 0x1e, G: 0x2a, B: 0x38, A: 0xff}
	foreground = color.RGBA{R: 0xf0, G: 0xf0, B: 0xf0, A: 0xff}
	boxColor   = color.RGBA{R: 0xff, G: 0x99, B: 0x22, A: 0xff}
	// PaintColor is the colour of the strokes that a left-button press or drag paints.
	PaintColor = color.RGBA{R: 0xff, G: 0x20, B: 0x60, A: 0xff}
	barColors  = []color.RGBA{
		{R: 0x4c, G: 0x72, B: 0xb0, A: 0xff}, {R: 0x55, G: 0xa8, B: 0x68, A: 0xff},
		{R: 0xc4, G: 0x4e, B: 0x52, A: 0xff}, {R: 0x81, G: 0x72, B: 0xb2, A: 0xff},
		{R: 0xcc, G: 0xb9, B: 0x74, A: 0xff}, {R: 0x64, G: 0xb5, B: 0xcd, A: 0xff},
		{R: 0x8c, G: 0x8c, B: 0x8c, A: 0xff}, {R: 0x2a, G: 0x2a, B: 0x2a, A: 0xff},
	}
)

// Desktop is the demo desktop. Input may be called from any goroutine, also while Run runs.
type Desktop struct {
	cfg     Config
	running atomic.Bool
	// resting is set while nobody watches (SetDemand): the animation stops.
	resting atomic.Bool
	// inputs wakes Run when input changed the scene, so input reaches peers without waiting
	// for the next animation tick.
	inputs chan struct{}

	// The layout, fixed by New.
	bounds          image.Rectangle
	clockAt, textAt image.Point
	textArea        image.Rectangle
	bars, band      image.Rectangle
	maxCols         int

	mu           sync.Mutex        // guards everything below
	damage       []image.Rectangle // changed since the last update
	clock        *image.Alpha
	clockText    string
	box          image.Rectangle
	boxVX, boxVY int
	phase        int     // of the busy band
	grain        []uint8 // random values below Config.Grain, nil for none
	pointer      image.Point
	pointerShown bool
	buttons      uint8
	paint        []bool          // paint[y*width+x]: a stroke covers the pixel
	painted      image.Rectangle // bounds of every painted pixel, so render skips the rest
	lines        [][]rune
	lineMasks    []*image.Alpha // lineMasks[i] renders lines[i]
	barShift     int
}

// New returns a desktop showing its first scene; Run animates it.
func New(cfg Config) (*Desktop, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w, h := cfg.Width, cfg.Height
	d := &Desktop{
		cfg:     cfg,
		inputs:  make(chan struct{}, 1),
		bounds:  image.Rect(0, 0, w, h),
		clockAt: image.Pt(margin, margin),
		textAt:  image.Pt(margin, 2*margin+glyphHeight*clockScale),
		paint:   make([]bool, w*h),
		lines:   [][]rune{nil},
		boxVX:   boxSpeedX,
		boxVY:   boxSpeedY,
	}
	if cfg.Grain > 0 {
		rnd := rand.New(rand.NewPCG(uint64(w), uint64(h)))
		d.grain = make([]uint8, grainSize)
		for i := range d.grain {
			d.grain[i] = uint8(rnd.IntN(cfg.Grain))
		}
	}
	d.maxCols = max(1, (w-2*margin)/(glyphAdvance*textScale))
	d.textArea = image.Rectangle{Min: d.textAt, Max: d.textAt.Add(image.Pt(d.maxCols*glyphAdvance*textScale, maxLines*glyphHeight*textScale))}
	d.bars = image.Rect(0, h-h/8, w, h)
	bandH := h * cfg.Busy / 100
	d.band = image.Rect(0, (h-bandH)/2, w, (h+bandH)/2)
	side := min(40, w/4, h/4)
	d.box = image.Rect(w/2, h/2, w/2+side, h/2+side)
	d.setClock(time.Now())
	d.lineMasks = []*image.Alpha{textMask(nil)}
	return d, nil
}

// Run sends the scene to update until ctx ends: the whole frame first, then the rectangles that
// changed: at once after input, and FPS times a second for the animation (nothing when nothing
// did). It returns ctx.Err(), or
// ErrRunning if another Run is under way. update must not retain the frame.
func (d *Desktop) Run(ctx context.Context, update func(frame *image.RGBA, damage []image.Rectangle)) error {
	if !d.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer d.running.Store(false)
	if err := ctx.Err(); err != nil {
		return err
	}
	// Only this goroutine writes fb, under mu; update reads it outside mu while Input and
	// Snapshot work on the state.
	fb := image.NewRGBA(d.bounds)
	d.mu.Lock()
	d.render(fb, d.bounds)
	d.damage = nil
	d.mu.Unlock()
	update(fb, []image.Rectangle{d.bounds})

	t := time.NewTicker(time.Second / time.Duration(d.cfg.FPS))
	defer t.Stop()
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now = <-t.C:
		case <-d.inputs:
		}
		if d.resting.Load() && !now.IsZero() {
			continue
		}
		d.mu.Lock()
		if !d.cfg.Still && !now.IsZero() {
			d.animate(now)
		}
		damage := d.damage
		d.damage = nil
		for _, r := range damage {
			d.render(fb, r)
		}
		d.mu.Unlock()
		if len(damage) > 0 {
			update(fb, damage)
		}
	}
}

// SetDemand stops the animation while nobody watches and starts it again when someone does
// (relay.Demander); input still reaches the scene. A new desktop is watched.
func (d *Desktop) SetDemand(watched bool) {
	d.resting.Store(!watched)
}

// Snapshot returns the current scene, including input that Run has not delivered yet.
func (d *Desktop) Snapshot() *image.RGBA {
	img := image.NewRGBA(d.bounds)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.render(img, d.bounds)
	return img
}

// Input applies one input event: a left-button press or drag paints, the pointer is drawn
// where it is, printable keys type text (BackSpace deletes, Return starts a new line), pasted
// clipboard text is typed, the wheel scrolls the colour bars. An event of an unknown type or outside the desktop returns
// ErrBadInput; keys the demo has no use for are accepted and ignored.
func (d *Desktop) Input(in wire.Input) error {
	switch in.Type {
	case wire.MsgPointer, wire.MsgWheel:
		if !image.Pt(in.X, in.Y).In(d.bounds) {
			return fmt.Errorf("%w: position %d,%d outside %v", ErrBadInput, in.X, in.Y, d.bounds.Max)
		}
	case wire.MsgKey, wire.MsgClipboard:
	default:
		return fmt.Errorf("%w: input type 0x%02x", ErrBadInput, in.Type)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	defer func() {
		if len(d.damage) > 0 {
			select {
			case d.inputs <- struct{}{}:
			default:
			}
		}
	}()
	switch in.Type {
	case wire.MsgPointer:
		d.movePointer(image.Pt(in.X, in.Y), in.Buttons)
	case wire.MsgWheel:
		d.scrollBars(in.DX + in.DY)
	case wire.MsgKey:
		if in.Down {
			d.key(in.Keysym)
		}
	case wire.MsgClipboard:
		d.paste(in.Text)
	}
	return nil
}

// paste types text as if its characters were keys, newlines as Return; only the tail that
// the text area can show is typed. d.mu is held.
func (d *Desktop) paste(text string) {
	runes := []rune(text)
	runes = runes[max(0, len(runes)-maxLines*(d.maxCols+1)):]
	for _, r := range runes {
		switch {
		case r == '\n':
			d.key(keyReturn)
		case r <= 0xff:
			d.key(uint32(r))
		default:
			d.key(unicodeBase + uint32(r))
		}
	}
}

// addDamage records that r changed; d.mu is held.
func (d *Desktop) addDamage(r image.Rectangle) {
	r = r.Intersect(d.bounds)
	if r.Empty() {
		return
	}
	d.damage = append(d.damage, r)
	if len(d.damage) > maxDamage {
		u := image.Rectangle{}
		for _, r := range d.damage {
			u = u.Union(r)
		}
		d.damage = append(d.damage[:0], u)
	}
}

// animate advances the clock, the box and the busy band to now; d.mu is held.
func (d *Desktop) animate(now time.Time) {
	d.setClock(now)
	d.addDamage(d.box)
	next := d.box.Add(image.Pt(d.boxVX, d.boxVY))
	if next.Min.X < 0 || next.Max.X > d.bounds.Max.X {
		d.boxVX = -d.boxVX
	}
	if next.Min.Y < 0 || next.Max.Y > d.bounds.Max.Y {
		d.boxVY = -d.boxVY
	}
	d.box = d.box.Add(image.Pt(d.boxVX, d.boxVY))
	d.addDamage(d.box)
	if !d.band.Empty() {
		d.phase += busySpeed
		d.addDamage(d.band)
	}
}

// setClock shows now's time of day when it differs from the one shown; d.mu is held (or d is
// being built).
func (d *Desktop) setClock(now time.Time) {
	s := now.Format("15:04:05")
	if s == d.clockText {
		return
	}
	d.clockText = s
	d.clock = textMask([]rune(s))
	d.addDamage(image.Rectangle{Min: d.clockAt, Max: d.clockAt.Add(d.clock.Rect.Size().Mul(clockScale))})
}

// crossRect is where the pointer cross at p is drawn.
func crossRect(p image.Point) image.Rectangle {
	return image.Rect(p.X-crossArm, p.Y-crossArm, p.X+crossArm+1, p.Y+crossArm+1)
}

// movePointer moves the pointer to p, painting while the left button is down; d.mu is held.
func (d *Desktop) movePointer(p image.Point, buttons uint8) {
	if d.pointerShown {
		d.addDamage(crossRect(d.pointer))
	}
	if buttons&wire.ButtonLeft != 0 {
		from := p
		if d.pointerShown && d.buttons&wire.ButtonLeft != 0 {
			from = d.pointer // a drag: join the previous position
		}
		d.paintLine(from, p)
	}
	d.pointer, d.pointerShown, d.buttons = p, true, buttons
	d.addDamage(crossRect(p))
}

// paintLine paints dots along the segment from a to b; d.mu is held.
func (d *Desktop) paintLine(a, b image.Point) {
	steps := max(abs(b.X-a.X), abs(b.Y-a.Y), 1)
	for i := 0; i <= steps; i++ {
		c := a.Add(b.Sub(a).Mul(i).Div(steps))
		dot := image.Rect(c.X-brushSize/2, c.Y-brushSize/2, c.X+brushSize/2+1, c.Y+brushSize/2+1).Intersect(d.bounds)
		d.painted = d.painted.Union(dot)
		for y := dot.Min.Y; y < dot.Max.Y; y++ {
			for x := dot.Min.X; x < dot.Max.X; x++ {
				d.paint[y*d.bounds.Dx()+x] = true
			}
		}
	}
	d.addDamage(image.Rectangle{Min: a, Max: a.Add(image.Pt(1, 1))}.Union(image.Rectangle{Min: b, Max: b.Add(image.Pt(1, 1))}).Inset(-brushSize / 2))
}

func abs(n int) int { return max(n, -n) }

// scrollBars shifts the colour bars by steps wheel steps; d.mu is held.
func (d *Desktop) scrollBars(steps int) {
	if steps == 0 {
		return
	}
	w := d.bounds.Dx()
	d.barShift = ((d.barShift+steps*16)%w + w) % w
	d.addDamage(d.bars)
}

// key applies a key press to the typed text; d.mu is held.
func (d *Desktop) key(keysym uint32) {
	last := len(d.lines) - 1
	switch keysym {
	case keyBackSpace:
		switch {
		case len(d.lines[last]) > 0:
			d.lines[last] = d.lines[last][:len(d.lines[last])-1]
		case last > 0:
			d.lines = d.lines[:last]
		default:
			return
		}
	case keyReturn, keyKPEnter:
		d.newLine()
	default:
		r, ok := keyRune(keysym)
		if !ok {
			return
		}
		if len(d.lines[last]) == d.maxCols {
			d.newLine()
		}
		last = len(d.lines) - 1
		d.lines[last] = append(d.lines[last], r)
	}
	d.lineMasks = d.lineMasks[:0]
	for _, l := range d.lines {
		d.lineMasks = append(d.lineMasks, textMask(l))
	}
	d.addDamage(d.textArea)
}

// newLine starts a new line of typed text, scrolling the oldest out when the area is full.
func (d *Desktop) newLine() {
	if len(d.lines) == maxLines {
		d.lines = append(d.lines[:0], d.lines[1:]...)
	}
	d.lines = append(d.lines, nil)
}

// keyRune returns the printable character of an X11 keysym: Latin-1 or Unicode.
func keyRune(k uint32) (rune, bool) {
	switch {
	case k >= 0x20 && k <= 0x7e, k >= 0xa0 && k <= 0xff:
		return rune(k), true
	case k > unicodeBase && k <= unicodeBase+unicode.MaxRune:
		r := rune(k - unicodeBase)
		return r, unicode.IsPrint(r)
	}
	return 0, false
}
