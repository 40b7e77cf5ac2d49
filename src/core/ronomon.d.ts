declare module '@ronomon/reed-solomon' {
  const ReedSolomon: {
    MAX_K: number;
    MAX_M: number;
    create(k: number, m: number): unknown;
    encode(
      context: unknown,
      sources: number,
      targets: number,
      buffer: Buffer,
      bufferOffset: number,
      bufferSize: number,
      parity: Buffer,
      parityOffset: number,
      paritySize: number,
      callback: (error: Error | null) => void,
    ): void;
  };
  export = ReedSolomon;
}
