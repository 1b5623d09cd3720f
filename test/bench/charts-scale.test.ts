/** Charts switch to a log axis when the values on it span an order of magnitude (n from 4 to 100). */
import { describe, expect, it } from 'vitest'
import { axisScale } from '../../bench/output/charts.ts'

describe('chart axes', () => {
  it('stay linear for the default sweep sizes and turn logarithmic from a tenfold span', () => {
    expect(axisScale([3, 5, 7, 4, 10]).log).toBe(false)
    expect(axisScale([4, 16, 31, 64, 100])).toEqual({ scale: { type: 'log', zero: false }, log: true })
    expect(axisScale([3, 30]).log).toBe(true)
    expect(axisScale([4, 39]).log).toBe(false)
  })

  it('ignore values a log axis cannot show', () => {
    expect(axisScale([0, 5, 7]).log).toBe(false)
    expect(axisScale([]).log).toBe(false)
  })
})
