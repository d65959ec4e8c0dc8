/**
 * Decoder of a chunked request body (RFC 9112 §7.1), pure and incremental: bytes in as they
 * arrive, the data as slices of the input (no copies), the end found exactly so that the bytes
 * after it belong to the next pipelined request. Strict like the head parser: chunk sizes are
 * bounded (no overflow), extensions and trailers may not carry control characters or bare LF.
 * Extensions and trailer fields are read and dropped (the upstream request is re-framed).
 */
import { BadRequest, type ProxyError } from './errors.js';

enum State {
  Size,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerLine,
  TrailerLineLf,
  EndLf,
  Done,
}

/** More hex digits than this could overflow a safe integer: refused. */
const maxSizeDigits = 13;
/** Bytes of extensions and trailers accepted in all (they are dropped anyway). */
const maxMetadataBytes = 16 * 1024;

/** Whether `c` may appear in a chunk extension or a trailer line (HTAB, SP, VCHAR, obs-text). */
function isFieldByte(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c !== 0x7f);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** One chunked body being decoded. */
export class ChunkedDecoder {
  /** Data bytes decoded so far. */
  total = 0;
  private state = State.Size;
  private size = 0;
  private digits = 0;
  private remaining = 0;
  private metadata = 0;

  /** True once the last chunk and the trailer section were read. */
  get done(): boolean {
    return this.state === State.Done;
  }

  /**
   * Decodes `input` from `start`, calling `onData` with each piece of data. Returns the offset
   * just past what was consumed (`input.length`, or the end of the body when it ends inside
   * `input`), or the error that makes the body unreadable.
   */
  decode(input: Buffer, start: number, onData: (data: Buffer) => void): number | ProxyError {
    let i = start;
    const length = input.length;
    while (i < length) {
      const c = input[i] as number;
      switch (this.state) {
        case State.Size: {
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.digits > maxSizeDigits) return new BadRequest('chunk size too large');
            this.size = this.size * 16 + v;
          } else if (this.digits === 0) {
            return new BadRequest('invalid chunk size');
          } else if (c === 0x0d) {
            this.state = State.SizeLf;
          } else if (c === 0x3b /* ; */) {
            this.state = State.Extension;
          } else {
            return new BadRequest('invalid chunk size');
          }
          i++;
          break;
        }
        case State.Extension:
          if (c === 0x0d) this.state = State.SizeLf;
          else if (!isFieldByte(c)) return new BadRequest('invalid chunk extension');
          else if (++this.metadata > maxMetadataBytes)
            return new BadRequest('chunk extensions too large');
          i++;
          break;
        case State.SizeLf:
          if (c !== 0x0a) return new BadRequest('chunk size line not ended by CRLF');
          i++;
          if (this.size === 0) {
            this.state = State.TrailerStart;
          } else {
            this.remaining = this.size;
            this.state = State.Data;
          }
          this.size = 0;
          this.digits = 0;
          break;
        case State.Data: {
          const end = Math.min(length, i + this.remaining);
          this.remaining -= end - i;
          this.total += end - i;
          onData(i === 0 && end === length ? input : input.subarray(i, end));
          i = end;
          if (this.remaining === 0) this.state = State.DataCr;
          break;
        }
        case State.DataCr:
          if (c !== 0x0d) return new BadRequest('chunk data not followed by CRLF');
          this.state = State.DataLf;
          i++;
          break;
        case State.DataLf:
          if (c !== 0x0a) return new BadRequest('chunk data not followed by CRLF');
          this.state = State.Size;
          i++;
          break;
        case State.TrailerStart:
          this.state = c === 0x0d ? State.EndLf : State.TrailerLine;
          if (c !== 0x0d && !isFieldByte(c)) return new BadRequest('invalid trailer');
          i++;
          break;
        case State.TrailerLine:
          if (c === 0x0d) this.state = State.TrailerLineLf;
          else if (!isFieldByte(c)) return new BadRequest('invalid trailer');
          else if (++this.metadata > maxMetadataBytes) return new BadRequest('trailers too large');
          i++;
          break;
        case State.TrailerLineLf:
          if (c !== 0x0a) return new BadRequest('trailer line not ended by CRLF');
          this.state = State.TrailerStart;
          i++;
          break;
        case State.EndLf:
          if (c !== 0x0a) return new BadRequest('chunked body not ended by CRLF');
          this.state = State.Done;
          return i + 1;
        case State.Done:
          return i;
      }
    }
    return i;
  }
}
