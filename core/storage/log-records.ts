/**
 * Log records by index for the memory storage: a sparse map from integer index to bytes, kept in pages of
 * consecutive indexes. Logs are written nearly in index order and dropped by ranges (compaction below a snapshot,
 * truncation of a tail), so a page holds many records and the map of pages changes rarely: a Map keyed by index took
 * an insert per record, a delete per compacted record and a rehash of the whole table now and then, the top cost of
 * simulated storage. Indexes far apart (HotStuff's or EPaxos' numbering) just use more pages.
 */

/** Indexes per page (a power of two). */
const PAGE_SIZE = 256

interface Page {
  readonly values: (Uint8Array | undefined)[]
  count: number
}

export class LogRecords {
  private readonly pages = new Map<number, Page>()
  private recordCount = 0
  /** The page used last: writes and reads mostly stay on one page for a while. */
  private lastPageNumber = Number.NaN
  private lastPage: Page | undefined = undefined

  get size(): number {
    return this.recordCount
  }

  get(index: number): Uint8Array | undefined {
    return this.page(Math.floor(index / PAGE_SIZE))?.values[index % PAGE_SIZE]
  }

  set(index: number, value: Uint8Array): void {
    if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`log index must be a non-negative integer, got ${index}`)
    const number = Math.floor(index / PAGE_SIZE)
    let page = this.page(number)
    if (page === undefined) {
      page = { values: new Array<Uint8Array | undefined>(PAGE_SIZE).fill(undefined), count: 0 }
      this.pages.set(number, page)
      this.lastPageNumber = number
      this.lastPage = page
    }
    const slot = index % PAGE_SIZE
    if (page.values[slot] === undefined) { page.count++; this.recordCount++ }
    page.values[slot] = value
  }

  delete(index: number): void {
    const number = Math.floor(index / PAGE_SIZE)
    const page = this.page(number)
    const slot = index % PAGE_SIZE
    if (page === undefined || page.values[slot] === undefined) return
    page.values[slot] = undefined
    page.count--
    this.recordCount--
    if (page.count === 0) this.dropPage(number)
  }

  /** Delete every record with index >= from. */
  deleteFrom(from: number): void {
    this.deleteRange(from, Number.MAX_SAFE_INTEGER)
  }

  /** Delete every record with index <= through. */
  deleteThrough(through: number): void {
    this.deleteRange(0, through)
  }

  /** Every index held, ascending. */
  indexes(): number[] {
    const out: number[] = []
    for (const number of [...this.pages.keys()].sort((a, b) => a - b)) {
      const values = this.pages.get(number)!.values
      for (let slot = 0; slot < PAGE_SIZE; slot++) if (values[slot] !== undefined) out.push(number * PAGE_SIZE + slot)
    }
    return out
  }

  /** Delete every record with index in [lo, hi], visiting only the slots of that range in the pages that exist. */
  private deleteRange(lo: number, hi: number): void {
    if (hi < lo) return
    const first = Math.floor(lo / PAGE_SIZE)
    const last = Math.floor(hi / PAGE_SIZE)
    for (const [number, page] of [...this.pages]) {
      if (number < first || number > last) continue
      const base = number * PAGE_SIZE
      const end = Math.min(hi - base, PAGE_SIZE - 1)
      for (let slot = Math.max(lo - base, 0); slot <= end && page.count > 0; slot++) {
        if (page.values[slot] === undefined) continue
        page.values[slot] = undefined
        page.count--
        this.recordCount--
      }
      if (page.count === 0) this.dropPage(number)
    }
  }

  private page(number: number): Page | undefined {
    if (number === this.lastPageNumber) return this.lastPage
    const page = this.pages.get(number)
    if (page !== undefined) {
      this.lastPageNumber = number
      this.lastPage = page
    }
    return page
  }

  private dropPage(number: number): void {
    this.pages.delete(number)
    if (number === this.lastPageNumber) {
      this.lastPageNumber = Number.NaN
      this.lastPage = undefined
    }
  }
}
