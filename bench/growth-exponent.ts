/**
 * How fast a figure grows with n: the least-squares slope of log(figure) against log(n). 1 means linear in n, 2
 * quadratic. Used for the wall time per operation of `bench speed --scaling` and the retained heap of a sweep.
 */

/** The slope over the points with a positive, finite figure, to two decimals; null below two distinct sizes. */
export function growthExponent(points: ReadonlyArray<{ readonly n: number; readonly value: number }>): number | null {
  const logs = points.filter(p => p.n > 0 && Number.isFinite(p.value) && p.value > 0).map(p => [Math.log(p.n), Math.log(p.value)] as const)
  if (logs.length < 2) return null
  const mx = logs.reduce((s, p) => s + p[0], 0) / logs.length
  const my = logs.reduce((s, p) => s + p[1], 0) / logs.length
  const sxx = logs.reduce((s, p) => s + (p[0] - mx) ** 2, 0)
  if (sxx === 0) return null
  return Math.round((logs.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0) / sxx) * 100) / 100
}
