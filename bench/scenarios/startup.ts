export async function startup(): Promise<void> {}
