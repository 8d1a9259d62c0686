// Package promfunc exposes counters a program already keeps as Prometheus metrics, read at
// every scrape: no second set of counters to keep in step.
package promfunc

import "github.com/prometheus/client_golang/prometheus"

// Metric is one value read at every scrape.
type Metric struct {
	// Name is the metric's name under the collector's namespace; Help its description.
	Name, Help string
	// Counter makes it a counter (the value only grows); a gauge otherwise.
	Counter bool
	// Labels are constant labels that set apart metrics of one Name (e.g. kind="login").
	Labels prometheus.Labels
	// Value reads the value.
	Value func() float64
}

// Collector collects a fixed list of Metrics.
type Collector struct {
	metrics []Metric
	descs   []*prometheus.Desc
}

// New returns a collector of metrics, their names under namespace.
func New(namespace string, metrics []Metric) *Collector {
	c := &Collector{metrics: metrics}
	for _, m := range metrics {
		c.descs = append(c.descs, prometheus.NewDesc(prometheus.BuildFQName(namespace, "", m.Name), m.Help, nil, m.Labels))
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for i, m := range c.metrics {
		t := prometheus.GaugeValue
		if m.Counter {
			t = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(c.descs[i], t, m.Value())
	}
}

// Uint returns a Value that reads an unsigned counter.
func Uint(f func() uint64) func() float64 { return func() float64 { return float64(f()) } }

// Int returns a Value that reads a count.
func Int(f func() int) func() float64 { return func() float64 { return float64(f()) } }
