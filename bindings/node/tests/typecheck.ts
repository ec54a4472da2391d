// A TypeScript program using the package as an editor would complete it,
// compiled with `tsc --noEmit` against the generated index.d.ts. Lines
// marked @ts-expect-error must fail to compile: the types are not `any`.
import { NBD, NbdError, CMD_FLAG, TLS, CONTEXT_BASE_ALLOCATION, STATE_HOLE, Extent } from '..';

async function main(uri: string): Promise<number> {
  const h = new NBD();
  h.setTls(TLS.ALLOW);
  h.addMetaContext(CONTEXT_BASE_ALLOCATION);
  h.setDebugCallback((context: string, msg: string) => { void context; void msg; });
  await h.connectUriAsync(uri);
  const size: number = h.getSize();
  const data: Buffer = h.pread(512, 0);
  h.pwrite(data, 512n, { flags: CMD_FLAG.FUA });
  const copies: Buffer[] = await Promise.all([h.preadAsync(512, 0), h.preadAsync(512, 512)]);
  await h.pwriteAsync(new Uint8Array(8), 0);
  await h.flushAsync();
  await h.zeroAsync(4096, 0, { flags: CMD_FLAG.NO_HOLE });
  await h.blockStatusAsync(4096, 0, (metacontext, offset, entries, error) => {
    const n: number = entries[0] & STATE_HOLE;
    error.value = 0;
    return metacontext.length + offset + n;
  });
  h.blockStatus64(4096, 0, (_m: string, _o: number, extents: Extent[]) => {
    for (const e of extents) void (e.length + e.flags);
  });
  const cookie: number = h.aioPread(Buffer.alloc(512), 0, { completion: (err) => err.value });
  const done: boolean = h.aioCommandCompleted(cookie);
  const name: string = h.getHandleName();
  const readOnly: boolean = h.isReadOnly();
  try {
    h.pread(1, size);
  } catch (e) {
    if (e instanceof NbdError) {
      const code: string | undefined = e.code;
      const errno: number = e.errno;
      void [code, errno];
    }
  }
  // @ts-expect-error: offsets are numbers or bigints
  h.pread(512, '0');
  // @ts-expect-error: the options object has no such key
  h.pread(512, 0, { flag: 1 });
  // @ts-expect-error: an unknown method
  h.preadd(512, 0);
  // @ts-expect-error: enums are frozen
  TLS.ALLOW = 3;
  h.close();
  return copies.length + Number(done) + name.length + Number(readOnly);
}

void main;
