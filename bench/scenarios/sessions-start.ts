export async function sessionsStart(): Promise<void> {}
