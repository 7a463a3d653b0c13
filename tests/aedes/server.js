// A second, independent MQTT 3.1.1 broker for the native driver's tests (aedes, in memory):
//   node server.js PORT
// Listens on 127.0.0.1:PORT and prints "ready" once it accepts connections.
import { createServer } from 'node:net'
import { Aedes } from 'aedes'

const port = Number(process.argv[2])
if (!Number.isInteger(port)) {
  console.error('usage: node server.js PORT')
  process.exit(1)
}
const broker = await Aedes.createBroker()
const server = createServer(broker.handle)
server.listen(port, '127.0.0.1', () => console.log('ready'))
process.on('SIGTERM', () => process.exit(0))
