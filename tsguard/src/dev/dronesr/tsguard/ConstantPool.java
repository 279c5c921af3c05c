package dev.dronesr.tsguard;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The one edit the agent makes to a class file: the name in a CONSTANT_Utf8 entry that is exactly
 * a class's internal name. Constant-pool entries are read in sequence and nothing later in a class
 * file holds a byte offset into the pool, so an entry may change length (JVMS 4.4).
 */
final class ConstantPool {
    private ConstantPool() {}

    /** {@code classFile} with the Utf8 entry equal to {@code from} replaced by {@code to}; exactly one must exist. */
    static byte[] renameClass(byte[] classFile, String from, String to) {
        try {
            DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(classFile));
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(classFile.length + to.length());
            DataOutputStream out = new DataOutputStream(bytes);
            int magic = in.readInt();
            if (magic != 0xCAFEBABE) {
                throw new IllegalArgumentException("not a class file");
            }
            out.writeInt(magic);
            out.writeInt(in.readInt()); // minor, major version
            int count = in.readUnsignedShort();
            out.writeShort(count);
            int replaced = 0;
            for (int index = 1; index < count; index++) {
                int tag = in.readUnsignedByte();
                out.writeByte(tag);
                switch (tag) {
                    case 1: // Utf8
                        String text = in.readUTF();
                        if (text.equals(from)) {
                            text = to;
                            replaced++;
                        }
                        out.writeUTF(text);
                        break;
                    case 5: // Long
                    case 6: // Double: eight bytes and two pool slots
                        copy(in, out, 8);
                        index++;
                        break;
                    case 3: // Integer
                    case 4: // Float
                    case 9: // Fieldref
                    case 10: // Methodref
                    case 11: // InterfaceMethodref
                    case 12: // NameAndType
                    case 17: // Dynamic
                    case 18: // InvokeDynamic
                        copy(in, out, 4);
                        break;
                    case 15: // MethodHandle
                        copy(in, out, 3);
                        break;
                    case 7: // Class
                    case 8: // String
                    case 16: // MethodType
                    case 19: // Module
                    case 20: // Package
                        copy(in, out, 2);
                        break;
                    default:
                        throw new IllegalArgumentException("unknown constant-pool tag " + tag);
                }
            }
            if (replaced != 1) {
                throw new IllegalArgumentException(from + " named " + replaced + " times, expected once");
            }
            out.write(classFile, classFile.length - in.available(), in.available());
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void copy(DataInputStream in, DataOutputStream out, int length) throws IOException {
        byte[] buffer = new byte[length];
        in.readFully(buffer);
        out.write(buffer);
    }
}
