// Replaced by the local control-plane bring-up (issue: local control plane).
export default async function globalSetup(): Promise<void> {}
